import type { Context, Next } from 'koa';
import { AppError } from '../errors.ts';
import { quoteHeaderValue } from '../verifier/http/challenge.ts';
import { FORBIDDEN_CODES, OwnTokenError } from './errors.ts';
import { OwnTokenVerifier, type OwnToken, type OwnTokenRequirements } from './verify.ts';

/** The three ways a Bearer-protected request fails (RFC 6750 §3.1). */
export type BearerErrorCode = 'ERR_UNAUTHORIZED' | 'ERR_INVALID_TOKEN' | 'ERR_INSUFFICIENT_SCOPE';

/** A refused Bearer credential; `challenge` is the `WWW-Authenticate` value to send with it. */
export class BearerError extends AppError<BearerErrorCode> {
  readonly challenge: string;

  constructor(code: BearerErrorCode, description: string, challenge: string) {
    super(code, description);
    this.challenge = challenge;
  }
}

/** How an edge words its challenges. */
export interface BearerChallengeOptions {
  /** `realm` of every challenge (the protected resource). Default: none. */
  realm?: string;
  /** `scope` named in an `insufficient_scope` challenge. Default: none. */
  scope?: string;
  /** The description of a refusal. Default: the verifier's fixed sentence (`err.message`). */
  describe?: (err: OwnTokenError) => string;
}

/**
 * Maps a refused token of this server once, for every edge that accepts them (admin API,
 * elevation routes, audit ingest): no credential → `ERR_UNAUTHORIZED` with a bare challenge;
 * a valid token that is not enough (scope, subject, role: {@link FORBIDDEN_CODES}) →
 * `ERR_INSUFFICIENT_SCOPE`; any other failure → `ERR_INVALID_TOKEN`. Each carries an RFC 6750
 * `WWW-Authenticate` challenge with properly quoted values.
 */
export function bearerError(err: OwnTokenError, opts: BearerChallengeOptions = {}): BearerError {
  const description = opts.describe?.(err) ?? err.message;
  const params = opts.realm === undefined ? [] : [`realm=${quoteHeaderValue(opts.realm)}`];
  const challenge = () => (params.length ? `Bearer ${params.join(', ')}` : 'Bearer');
  if (err.code === 'ERR_TOKEN_MISSING')
    return new BearerError('ERR_UNAUTHORIZED', description, challenge());
  const forbidden = FORBIDDEN_CODES.has(err.code);
  params.push(
    `error="${forbidden ? 'insufficient_scope' : 'invalid_token'}"`,
    `error_description=${quoteHeaderValue(description)}`,
  );
  if (forbidden && opts.scope !== undefined) params.push(`scope=${quoteHeaderValue(opts.scope)}`);
  return new BearerError(
    forbidden ? 'ERR_INSUFFICIENT_SCOPE' : 'ERR_INVALID_TOKEN',
    description,
    challenge(),
  );
}

/**
 * Koa middleware: verifies the request's Bearer token against `req` and sets `ctx.state.token`;
 * a refusal throws {@link BearerError} after setting its challenge header.
 */
export function requireOwnToken(tokens: OwnTokenVerifier, req: OwnTokenRequirements) {
  return async (ctx: Context, next: Next) => {
    let token: OwnToken;
    try {
      token = await tokens.verify(OwnTokenVerifier.bearer(ctx.get('authorization')), req);
    } catch (err) {
      if (!(err instanceof OwnTokenError)) throw err;
      const refused = bearerError(err);
      ctx.set('WWW-Authenticate', refused.challenge);
      throw refused;
    }
    ctx.state.token = token;
    await next();
  };
}
