import type { IncomingMessage, ServerResponse } from 'node:http';
import { authInfoFor } from './allowed-calls.ts';
import { createGuard, type ResourceServerAuthOptions } from './guard.ts';
import { writeGuardResponse, type AuthenticatedRequest } from './node.ts';
import { learnSessionOpenedBy } from './sessions.ts';

/** The parts of an Express request the middleware uses (Express is not imported). */
export type ExpressLikeRequest = IncomingMessage & { originalUrl?: string; body?: unknown };

/**
 * Express middleware: serves the metadata document, authenticates, runs `decide`, then either
 * answers or sets `req.auth` (MCP SDK `AuthInfo`) and calls `next()`. Reuses a body already parsed
 * by `express.json()`, otherwise leaves the parsed body on `req.body`.
 */
export function expressAuth(
  options: ResourceServerAuthOptions,
): (req: ExpressLikeRequest, res: ServerResponse, next: (error?: unknown) => void) => void {
  const guard = createGuard(options);
  return (req, res, next) => {
    // originalUrl: mounting (app.use('/mcp', …)) rewrites req.url, but clients see the full path.
    guard(req, req.originalUrl ?? req.url ?? '/').then((result) => {
      if (result.kind === 'respond') return writeGuardResponse(res, result);
      (req as AuthenticatedRequest).auth = authInfoFor(result.auth, result.allowance);
      if (result.sessions !== undefined) learnSessionOpenedBy(res, result.sessions, result.auth);
      next();
    }, next);
  };
}
