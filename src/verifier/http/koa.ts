import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AuthInfo } from '@modelcontextprotocol/sdk/server/auth/types.js';
import { authInfoFor } from './allowed-calls.ts';
import { createGuard, type ResourceServerAuthOptions } from './guard.ts';
import { learnSessionOpenedBy } from './sessions.ts';

/** The parts of a Koa context the middleware uses; Koa itself is never imported here. */
export interface KoaLikeContext {
  req: IncomingMessage & { body?: unknown; auth?: AuthInfo };
  res: ServerResponse;
  originalUrl: string;
  status: number;
  body: unknown;
  set(field: string, value: string): void;
  state: Record<string, unknown>;
  request: { body?: unknown };
}

/**
 * Koa middleware: serves the metadata document, authenticates, runs `decide`, then either answers
 * or sets `ctx.state.auth` and `ctx.req.auth` (MCP SDK `AuthInfo`) and awaits `next()`. A body from
 * a Koa body parser (`ctx.request.body`) is reused; one read here is left on `ctx.request.body`.
 */
export function koaAuth(
  options: ResourceServerAuthOptions,
): (ctx: KoaLikeContext, next: () => Promise<unknown>) => Promise<void> {
  const guard = createGuard(options);
  return async (ctx, next) => {
    if (ctx.request.body !== undefined && ctx.req.body === undefined)
      ctx.req.body = ctx.request.body;
    const result = await guard(ctx.req, ctx.originalUrl);
    if (ctx.req.body !== undefined) ctx.request.body = ctx.req.body;
    if (result.kind === 'respond') {
      ctx.set('Cache-Control', 'no-store');
      for (const [name, value] of Object.entries(result.headers)) ctx.set(name, value);
      ctx.status = result.status;
      ctx.body = result.body ?? null;
      return;
    }
    const auth = authInfoFor(result.auth, result.allowance);
    ctx.req.auth = auth;
    ctx.state.auth = auth;
    if (result.sessions !== undefined) learnSessionOpenedBy(ctx.res, result.sessions, result.auth);
    await next();
  };
}
