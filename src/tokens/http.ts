import type { Context, Next } from 'koa';
import { AppError } from '../errors.ts';
import { quoteHeaderValue } from '../verifier/http/challenge.ts';
import { FORBIDDEN_CODES, OwnTokenError } from './errors.ts';
import { OwnTokenVerifier, type OwnToken, type OwnTokenRequirements } from './verify.ts';

/**
 * The HTTP edge of {@link OwnTokenVerifier} for the server's own JSON endpoints (elevation
 * routes, audit ingest): no credential → 401 `unauthorized`; a valid token that is not enough
 * (scope, subject, role) → 403 `insufficient_scope`; any other failure → 401 `invalid_token`.
 * Each answer carries an RFC 6750 `WWW-Authenticate` challenge with the verifier's fixed text.
 */
export function ownTokenError(err: OwnTokenError): AppError & { challenge: string } {
  const description = quoteHeaderValue(err.message);
  if (err.code === 'ERR_TOKEN_MISSING')
    return Object.assign(new AppError('unauthorized', 401, err.message), { challenge: 'Bearer' });
  if (FORBIDDEN_CODES.has(err.code)) {
    return Object.assign(new AppError('insufficient_scope', 403, err.message), {
      challenge: `Bearer error="insufficient_scope", error_description=${description}`,
    });
  }
  return Object.assign(new AppError('invalid_token', 401, err.message), {
    challenge: `Bearer error="invalid_token", error_description=${description}`,
  });
}

/** Koa middleware: verifies the request's Bearer token against `req` and sets `ctx.state.token`. */
export function requireOwnToken(tokens: OwnTokenVerifier, req: OwnTokenRequirements) {
  return async (ctx: Context, next: Next) => {
    let token: OwnToken;
    try {
      token = await tokens.verify(OwnTokenVerifier.bearer(ctx.get('authorization')), req);
    } catch (err) {
      if (!(err instanceof OwnTokenError)) throw err;
      const mapped = ownTokenError(err);
      ctx.set('WWW-Authenticate', mapped.challenge);
      throw mapped;
    }
    ctx.state.token = token;
    await next();
  };
}
