import { InsufficientScopeError, MissingTokenError, TemporarilyUnavailableError, VerifierError } from '../errors.ts';

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
  /** Scopes every token carries; merged into a step-up `scope` (DESIGN §5). Default `[]`. */
  baseScopes?: readonly string[];
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
 * Turns a verifier error into the response a client expects (RFC 6750 §3, RFC 9728 §5.1):
 * - no token → `401`, `WWW-Authenticate: Bearer resource_metadata="…"` (no `error`, RFC 6750 §3.1);
 * - bad token → `401`, `Bearer error="invalid_token", error_description="…", resource_metadata="…"`;
 * - malformed request → `400` with `error="invalid_request"`;
 * - step-up → `403`, `Bearer error="insufficient_scope", scope="<base ∪ needed>", resource_metadata="…"`;
 * - keys unavailable → `503` with `Retry-After` and no challenge (re-authorizing would not help);
 * - anything else → a bare `500 server_error`: internal messages never reach a response.
 */
export function challenge(error: unknown, options: ChallengeOptions): ErrorResponse {
  const metadata = param('resource_metadata', options.resourceMetadataUrl);
  if (!(error instanceof VerifierError)) {
    return { status: 500, headers: {}, body: { error: 'server_error' } };
  }
  if (error instanceof MissingTokenError) {
    return { status: 401, headers: { 'WWW-Authenticate': `Bearer ${metadata}` }, body: { error: error.code, error_description: error.description } };
  }
  if (error instanceof InsufficientScopeError) {
    const scope = scopeList([...(options.baseScopes ?? []), ...error.scopes]);
    const header = `Bearer ${param('error', error.code)}, ${param('scope', scope)}, ${metadata}`;
    return { status: 403, headers: { 'WWW-Authenticate': header }, body: { error: error.code, error_description: error.description, scope } };
  }
  const body = { error: error.code, error_description: error.description };
  if (error instanceof TemporarilyUnavailableError) {
    return { status: 503, headers: { 'Retry-After': String(error.retryAfterSec) }, body };
  }
  if (error.status === 401 || error.status === 400) {
    const header = `Bearer ${param('error', error.code)}, ${param('error_description', error.description)}, ${metadata}`;
    return { status: error.status, headers: { 'WWW-Authenticate': header }, body };
  }
  return { status: error.status, headers: {}, body };
}
