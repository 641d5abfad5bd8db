import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AuthInfo } from '@modelcontextprotocol/sdk/server/auth/types.js';
import { authInfoFor } from './allowed-calls.ts';
import type { VerifiedToken } from '../token/types.ts';
import { createGuard, type GuardResult, type ResourceServerAuthOptions } from './guard.ts';
import { learnSessionOpenedBy } from './sessions.ts';

/** A Node request once authenticated: `auth` is what the MCP SDK transports read. */
export type AuthenticatedRequest = IncomingMessage & { auth?: AuthInfo; body?: unknown };

/** Writes a guard response on a Node (or Express) response; JSON, never cached. */
export function writeGuardResponse(
  res: ServerResponse,
  result: Extract<GuardResult, { kind: 'respond' }>,
): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  const payload = result.body === undefined ? undefined : JSON.stringify(result.body);
  const headers: Record<string, string> = { 'Cache-Control': 'no-store', ...result.headers };
  if (payload !== undefined) headers['Content-Type'] = 'application/json';
  res.writeHead(result.status, headers);
  res.end(payload);
}

/**
 * node:http adapter. The returned function serves the metadata document, authenticates, runs
 * `decide` on tool calls, and either writes the response itself (and resolves `undefined`: stop
 * here) or sets `req.auth` (the MCP SDK's `AuthInfo`) and resolves the verified token. With
 * `decide`, the parsed body is on `req.body`: pass it to `transport.handleRequest(req, res, req.body)`.
 */
export function nodeHttpAuth(
  options: ResourceServerAuthOptions,
): (req: IncomingMessage, res: ServerResponse) => Promise<VerifiedToken | undefined> {
  const guard = createGuard(options);
  return async (req, res) => {
    const result = await guard(req, req.url ?? '/');
    if (result.kind === 'respond') {
      writeGuardResponse(res, result);
      return undefined;
    }
    (req as AuthenticatedRequest).auth = authInfoFor(result.auth, result.allowance);
    if (result.sessions !== undefined) learnSessionOpenedBy(res, result.sessions, result.auth);
    return result.auth;
  };
}
