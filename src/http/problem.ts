import type { AppError, ErrorCode } from '../errors.ts';

/**
 * How the HTTP edge answers an error code: its status, and the problem's `code` member when that
 * is not the error code itself (the bearer and ingest errors answer in OAuth's and RFC 6750's
 * words). `internal` codes are never a client's fault: they are answered as a bare 500.
 */
export type HttpAnswer = { readonly status: number; readonly code?: string } | 'internal';

/** The one table from error code to HTTP answer (problem JSON and HTML pages alike). */
export const HTTP_ERRORS: Readonly<Record<ErrorCode, HttpAnswer>> = Object.freeze({
  ERR_NOT_FOUND: { status: 404 },
  ERR_CONFLICT: { status: 409 },
  ERR_INVALID: { status: 400 },
  ERR_VALIDATION: { status: 400 },
  ERR_INVALID_REQUEST: { status: 400, code: 'invalid_request' },
  ERR_MALFORMED_JSON: { status: 400 },
  ERR_BODY_TOO_LARGE: { status: 413 },
  ERR_UNSUPPORTED_MEDIA_TYPE: { status: 415 },
  ERR_JSON_REQUIRED: { status: 415, code: 'unsupported_media_type' },
  ERR_METHOD_NOT_ALLOWED: { status: 405 },
  ERR_RATE_LIMITED: { status: 429, code: 'rate_limited' },
  ERR_CSRF: { status: 403 },
  ERR_TEMPORARILY_UNAVAILABLE: { status: 503, code: 'temporarily_unavailable' },
  ERR_UNAUTHORIZED: { status: 401, code: 'unauthorized' },
  ERR_INVALID_TOKEN: { status: 401, code: 'invalid_token' },
  ERR_INSUFFICIENT_SCOPE: { status: 403, code: 'insufficient_scope' },
  ERR_UNKNOWN_REFERENCE: { status: 400 },
  ERR_SELF_LOCKOUT: { status: 409 },
  ERR_GROUP_EXISTS: { status: 409 },
  ERR_GROUP_IN_USE: { status: 409 },
  ERR_ROLE_EXISTS: { status: 409 },
  ERR_ROLE_IN_USE: { status: 409 },
  ERR_ALREADY_REVOKED: { status: 409 },
  ERR_INVALID_CLIENT_METADATA: { status: 400 },
  ERR_ROLE_CYCLE: { status: 409 },
  // A role naming a parent that does not exist is a bad request, not a conflict.
  ERR_ROLE_UNKNOWN_PARENT: { status: 400 },
  ERR_ROLE_DUPLICATE: { status: 409 },
  ERR_ROLE_UNKNOWN: { status: 409 },
  ERR_CATALOGUE_INVALID: { status: 409 },
  ERR_NOT_MCP_SERVER: { status: 403 },
  ERR_INELIGIBLE: { status: 403 },
  ERR_TICKET_NOT_FOUND: { status: 404 },
  ERR_TICKET_CLOSED: { status: 409 },
  ERR_SELF_APPROVAL: { status: 403 },
  ERR_NOT_APPROVER: { status: 403 },
  ERR_ALREADY_DECIDED: { status: 409 },
  ERR_PASSKEY_REQUIRED: { status: 403 },
  ERR_PASSKEY_INVALID: { status: 400 },
  // The chain cannot be checked now: not the caller's fault, and not an answer about the chain.
  ERR_AUDIT_SOURCE: { status: 503 },
  ERR_FEDERATION_STATE: { status: 400 },
  ERR_UPSTREAM_UNAVAILABLE: { status: 503, code: 'temporarily_unavailable' },
  ERR_UPSTREAM_INVALID: { status: 502 },
  ERR_UPSTREAM_DENIED: { status: 403, code: 'access_denied' },
  ERR_ACCOUNT_LINK_REFUSED: { status: 409 },
  ERR_LOCAL_LOGIN_DISABLED: { status: 403 },
  ERR_USAGE: 'internal',
  ERR_CONFIG: 'internal',
  ERR_CATALOGUE: 'internal',
  ERR_FEDERATION_CONFIG: 'internal',
  ERR_DATABASE_IN_USE: 'internal',
});

/** An error as the HTTP edge answers it (RFC 9457 members, before rendering). */
export interface Problem {
  status: number;
  /** Machine-readable code: an {@link ErrorCode} or the protocol's own word. */
  code: string;
  /** Public, human-readable explanation. */
  detail: string;
  /** Extension members (field errors, names of the roles involved). */
  extra?: Readonly<Record<string, unknown>>;
}

/** The bare answer to anything unknown or internal: no internal message leaves the server. */
export const SERVER_ERROR: Problem = Object.freeze({
  status: 500,
  code: 'server_error',
  detail: 'The server could not complete the request.',
});

/** The problem for a domain error, or undefined when its code is internal (then a bare 500). */
export function problemOf(err: AppError): Problem | undefined {
  const answer = HTTP_ERRORS[err.code];
  if (answer === 'internal') return undefined;
  return {
    status: answer.status,
    code: answer.code ?? err.code,
    detail: err.message,
    ...(err.detail && { extra: err.detail }),
  };
}

const TITLES: Readonly<Record<number, string>> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  409: 'Conflict',
  413: 'Content Too Large',
  415: 'Unsupported Media Type',
  429: 'Too Many Requests',
  503: 'Service Unavailable',
};

/** The short title of a status (a problem's `title`, an error page's heading). */
export function statusTitle(status: number): string {
  return TITLES[status] ?? (status >= 500 ? 'Internal Server Error' : 'Error');
}

/** RFC 9457 media type of problem documents. */
export const PROBLEM_TYPE = 'application/problem+json';

/** The RFC 9457 document for a problem: `type`, `title`, `status`, `detail`, `code`, extensions. */
export function problemBody(p: Problem): Record<string, unknown> {
  return {
    type: 'about:blank',
    title: statusTitle(p.status),
    status: p.status,
    detail: p.detail,
    code: p.code,
    ...p.extra,
  };
}
