import {
  InsufficientScopeError,
  MissingTokenError,
  TemporarilyUnavailableError,
  VerifierError,
} from '../errors.ts';

/** An HTTP response to write: status, headers and a JSON body. */
export interface ErrorResponse {
  status: number;
  headers: Record<string, string>;
  body: Record<string, unknown>;
}

/** Settings of {@link challenge}. */
export interface ChallengeOptions {
  /** Absolute URL of this resource's Protected Resource Metadata (`resource_metadata`). */
  resourceMetadataUrl: string;
  /** Scopes every token carries; merged into a step-up `scope` (ARCHITECTURE.md §5). Default `[]`. */
  baseScopes?: readonly string[];
  /**
   * DPoP proof algorithms this resource accepts: the `algs` of its `DPoP` challenges
   * (RFC 9449 §7.1). Default: none, and every challenge uses the `Bearer` scheme only.
   */
  dpopAlgorithms?: readonly string[];
}

/** Facts of the request a failure belongs to. */
export interface ChallengeContext {
  /** Authorization scheme the request used, if any; `dpop` is challenged with the DPoP scheme. */
  scheme?: 'bearer' | 'dpop';
}

/**
 * Makes `value` safe inside an RFC 7235 quoted-string: everything outside printable ASCII
 * (CR, LF, other controls, DEL, non-ASCII) is dropped — Node refuses most of those in headers,
 * and CR/LF would split the header — then `"` and `\` are backslash-escaped, so a value can
 * neither end the quoted-string early nor add a parameter.
 */
export function quoteHeaderValue(value: string): string {
  return `"${value.replace(/[^\x20-\x7e]/g, '').replace(/["\\]/g, '\\$&')}"`;
}

function param(name: string, value: string): string {
  return `${name}=${quoteHeaderValue(value)}`;
}

/** Scope tokens may not contain spaces, quotes or backslashes (RFC 6749 §3.3); others are dropped. */
function scopeList(scopes: readonly string[]): string {
  const valid = scopes.filter((scope) => /^[\x21\x23-\x5b\x5d-\x7e]+$/.test(scope));
  return [...new Set(valid)].join(' ');
}

/**
 * Turns a verifier error into the response a client expects (RFC 6750 §3, RFC 9728 §5.1,
 * RFC 9449 §7.1). `<metadata>` stands for `resource_metadata="…"`, `<dpop>` for the DPoP challenge
 * `DPoP algs="…", resource_metadata="…"` of a resource that accepts DPoP:
 * - no token → `401 Bearer <metadata>` (no `error`, RFC 6750 §3.1), `, <dpop>` appended;
 * - bad token → `401 Bearer error="invalid_token", error_description="…", <metadata>`, and
 *   `, <dpop>` appended; a malformed request the same with `400 invalid_request`;
 * - a failure that concerns DPoP (the request used the DPoP scheme, the token is DPoP-bound, or
 *   its proof is bad: `invalid_dpop_proof`) → the DPoP scheme alone:
 *   `401 DPoP error="…", error_description="…", algs="…", <metadata>`;
 * - step-up → `403 Bearer error="insufficient_scope", scope="<base ∪ needed>", <metadata>`, with
 *   the DPoP scheme and `algs` instead when the token is DPoP-bound;
 * - keys unavailable → `503` with `Retry-After` and no challenge (re-authorizing would not help);
 * - anything else → a bare `500 server_error`: internal messages never reach a response.
 * The Bearer challenge comes first: the MCP SDK client reads only a leading `Bearer` challenge.
 * Server nonces (`use_dpop_nonce`) are not used.
 */
export function challenge(
  error: unknown,
  options: ChallengeOptions,
  context: ChallengeContext = {},
): ErrorResponse {
  const metadata = param('resource_metadata', options.resourceMetadataUrl);
  if (!(error instanceof VerifierError)) {
    return { status: 500, headers: {}, body: { error: 'server_error' } };
  }
  const algs =
    options.dpopAlgorithms !== undefined && options.dpopAlgorithms.length > 0
      ? param('algs', options.dpopAlgorithms.join(' '))
      : undefined;
  const dpopOffer = algs === undefined ? '' : `, DPoP ${algs}, ${metadata}`;
  // Without DPoP support at this resource there is no DPoP challenge to send.
  const scheme =
    algs !== undefined && (error.dpop || context.scheme === 'dpop') ? 'DPoP' : 'Bearer';
  const tail = scheme === 'DPoP' ? `${algs}, ${metadata}` : metadata;
  const offer = scheme === 'DPoP' ? '' : dpopOffer;
  if (error instanceof MissingTokenError) {
    const header = `Bearer ${metadata}${dpopOffer}`;
    return {
      status: 401,
      headers: { 'WWW-Authenticate': header },
      body: { error: error.code, error_description: error.description },
    };
  }
  if (error instanceof InsufficientScopeError) {
    const scope = scopeList([...(options.baseScopes ?? []), ...error.scopes]);
    const header = `${scheme} ${param('error', error.code)}, ${param('scope', scope)}, ${tail}`;
    return {
      status: 403,
      headers: { 'WWW-Authenticate': header },
      body: { error: error.code, error_description: error.description, scope },
    };
  }
  const body = { error: error.code, error_description: error.description };
  if (error instanceof TemporarilyUnavailableError) {
    return { status: 503, headers: { 'Retry-After': String(error.retryAfterSec) }, body };
  }
  if (error.status === 401 || error.status === 400) {
    const header = `${scheme} ${param('error', error.code)}, ${param('error_description', error.description)}, ${tail}${offer}`;
    return { status: error.status, headers: { 'WWW-Authenticate': header }, body };
  }
  return { status: error.status, headers: {}, body };
}
