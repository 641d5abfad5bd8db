import type { Context } from 'koa';
import type { AppError, ErrorCode } from '../errors.ts';
import { HTTP_ERRORS } from './problem.ts';

/** OAuth error codes this server answers with at its protocol endpoints (RFC 6749 §5.2, RFC 6750 §3.1). */
export type OAuthErrorCode =
  | 'invalid_request'
  | 'invalid_token'
  | 'insufficient_scope'
  | 'access_denied'
  | 'temporarily_unavailable'
  | 'server_error';

/**
 * The OAuth `error` for a code, where a request to an OAuth endpoint (authorization, token,
 * backchannel, …) fails before oidc-provider answers it itself. Exhaustive: a new code does not
 * compile until it is placed here.
 */
export function oauthErrorOf(code: ErrorCode): OAuthErrorCode {
  switch (code) {
    case 'ERR_INVALID_REQUEST':
    case 'ERR_BODY_TOO_LARGE':
    case 'ERR_MALFORMED_JSON':
    case 'ERR_UNSUPPORTED_MEDIA_TYPE':
    case 'ERR_JSON_REQUIRED':
    case 'ERR_METHOD_NOT_ALLOWED':
    case 'ERR_VALIDATION':
    case 'ERR_INVALID':
    case 'ERR_NOT_FOUND':
    case 'ERR_CONFLICT':
    case 'ERR_RATE_LIMITED':
    case 'ERR_UNAUTHORIZED':
    case 'ERR_UNKNOWN_REFERENCE':
    case 'ERR_SELF_LOCKOUT':
    case 'ERR_GROUP_EXISTS':
    case 'ERR_GROUP_IN_USE':
    case 'ERR_ROLE_EXISTS':
    case 'ERR_ROLE_IN_USE':
    case 'ERR_ALREADY_REVOKED':
    case 'ERR_INVALID_CLIENT_METADATA':
    case 'ERR_ROLE_CYCLE':
    case 'ERR_ROLE_UNKNOWN_PARENT':
    case 'ERR_ROLE_DUPLICATE':
    case 'ERR_ROLE_UNKNOWN':
    case 'ERR_CATALOGUE_INVALID':
    case 'ERR_TICKET_NOT_FOUND':
    case 'ERR_TICKET_CLOSED':
    case 'ERR_ALREADY_DECIDED':
    case 'ERR_FEDERATION_STATE':
    case 'ERR_PASSKEY_INVALID':
      return 'invalid_request';
    case 'ERR_INVALID_TOKEN':
      return 'invalid_token';
    case 'ERR_INSUFFICIENT_SCOPE':
      return 'insufficient_scope';
    case 'ERR_CSRF':
    case 'ERR_NOT_MCP_SERVER':
    case 'ERR_INELIGIBLE':
    case 'ERR_SELF_APPROVAL':
    case 'ERR_NOT_APPROVER':
    case 'ERR_UPSTREAM_DENIED':
    case 'ERR_ACCOUNT_LINK_REFUSED':
    case 'ERR_LOCAL_LOGIN_DISABLED':
    case 'ERR_PASSKEY_REQUIRED':
      return 'access_denied';
    case 'ERR_TEMPORARILY_UNAVAILABLE':
    case 'ERR_AUDIT_SOURCE':
    case 'ERR_UPSTREAM_UNAVAILABLE':
    case 'ERR_UPSTREAM_INVALID':
      return 'temporarily_unavailable';
    case 'ERR_USAGE':
    case 'ERR_CONFIG':
    case 'ERR_CATALOGUE':
    case 'ERR_FEDERATION_CONFIG':
    case 'ERR_DATABASE_IN_USE':
      return 'server_error';
    default: {
      const _exhaustive: never = code;
      return _exhaustive;
    }
  }
}

/**
 * Answers `err` as an OAuth error object (RFC 6749 §5.2): the status from {@link HTTP_ERRORS},
 * `error` from {@link oauthErrorOf}, the error's public message as `error_description`. An
 * internal code is a bare 500 `server_error`.
 */
export function answerOAuthError(ctx: Context, err: AppError): void {
  const answer = HTTP_ERRORS[err.code];
  ctx.status = answer === 'internal' ? 500 : answer.status;
  ctx.type = 'application/json';
  ctx.body =
    answer === 'internal'
      ? { error: 'server_error' }
      : { error: oauthErrorOf(err.code), error_description: err.message };
}
