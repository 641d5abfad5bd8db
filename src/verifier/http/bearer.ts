import { InvalidRequestError, InvalidTokenError, MissingTokenError } from '../errors.ts';
import type { TokenVerifier, VerifiedToken } from '../token/types.ts';

/** A header as Node exposes it: absent, one value, or every value (`req.headersDistinct`). */
export type HeaderValue = string | readonly string[] | undefined;

/** A request's `Authorization` and `DPoP` headers, each every value when repeated. */
export interface CredentialHeaders {
  authorization: HeaderValue;
  dpop: HeaderValue;
}

/**
 * The `Authorization` and `DPoP` headers from a Node request's `rawHeaders` (names in any case),
 * each one value, or every value when the request repeats it, as `req.headersDistinct` would
 * give them: `req.headers` keeps only the first `Authorization` and joins repeated `DPoP`
 * values with commas, which would hide a repetition. Read in place, without building
 * `headersDistinct` (an array for every header of the request).
 */
export function credentialHeaders(rawHeaders: readonly string[]): CredentialHeaders {
  let authorization: HeaderValue;
  let dpop: HeaderValue;
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!;
    if (name.length === 13 && name.toLowerCase() === 'authorization')
      authorization = withValue(authorization, rawHeaders[i + 1]!);
    else if (name.length === 4 && name.toLowerCase() === 'dpop')
      dpop = withValue(dpop, rawHeaders[i + 1]!);
  }
  return { authorization, dpop };
}

function withValue(values: HeaderValue, value: string): HeaderValue {
  if (values === undefined) return value;
  return typeof values === 'string' ? [values, value] : [...values, value];
}

/**
 * The request facts DPoP needs: method and the absolute URL the client addressed. `url` is read
 * only for a request with a `DPoP` header, so it may be a getter computing it on demand.
 */
export interface RequestInfo {
  method: string;
  url: string;
}

/** RFC 6750 §2.1 b64token. */
const B64TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;

function single(value: HeaderValue, name: string): string | undefined {
  if (value === undefined || typeof value === 'string') return value;
  if (value.length > 1) throw new InvalidRequestError(`multiple ${name} headers`);
  return value[0];
}

/**
 * Parses an Authorization header into scheme and token. Rules:
 * absent, or a scheme other than Bearer/DPoP → no credentials (`MissingTokenError`); the header
 * repeated, a scheme without a token, or extra parts → `InvalidRequestError`; a token outside the
 * b64token alphabet → `InvalidTokenError`. Scheme names are case-insensitive (RFC 9110 §11.1).
 */
export function parseAuthorization(authorization: HeaderValue): {
  scheme: 'bearer' | 'dpop';
  token: string;
} {
  const header = single(authorization, 'Authorization');
  if (header === undefined || header.trim() === '') throw new MissingTokenError();
  const [scheme, ...rest] = header.trim().split(/[ \t]+/);
  const normalized = scheme.toLowerCase();
  if (normalized !== 'bearer' && normalized !== 'dpop') throw new MissingTokenError();
  if (rest.length === 0) throw new InvalidRequestError('missing access token');
  if (rest.length > 1) throw new InvalidRequestError('malformed Authorization header');
  if (!B64TOKEN.test(rest[0])) throw new InvalidTokenError('malformed token');
  return { scheme: normalized, token: rest[0] };
}

/**
 * The scheme an Authorization header names, if it is one of ours; never throws. Used to choose
 * the challenge scheme of a failure, whatever the failure was.
 */
export function schemeOf(authorization: HeaderValue): 'bearer' | 'dpop' | undefined {
  const header = typeof authorization === 'string' ? authorization : authorization?.[0];
  const scheme = header?.trimStart().slice(0, 7).split(/[ \t]/)[0].toLowerCase();
  return scheme === 'bearer' || scheme === 'dpop' ? scheme : undefined;
}

/**
 * The framework-neutral core of every adapter: reads the Authorization (and DPoP) header and
 * verifies the token. Resolves to the verified token or rejects with a `VerifierError`
 * (`MissingTokenError`, `InvalidRequestError`, `InvalidTokenError`, `TemporarilyUnavailableError`),
 * which `challenge()` turns into the response.
 */
export async function verifyBearer(
  verifier: TokenVerifier,
  authorization: HeaderValue,
  dpop: HeaderValue,
  request: RequestInfo,
): Promise<VerifiedToken> {
  const { scheme, token } = parseAuthorization(authorization);
  const proof = single(dpop, 'DPoP');
  // `url` is read only when there is a proof to check it against: a caller may compute it on
  // demand (a getter). Without a proof a DPoP-bound token is refused before any URL is compared.
  return verifier.verify(token, {
    method: request.method,
    url: proof === undefined ? '' : request.url,
    dpop: proof,
    scheme,
  });
}
