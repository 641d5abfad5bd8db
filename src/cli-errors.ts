import { AppError, type ErrorCode } from './errors.ts';

/** Exit codes of the command line: 1 the command failed, 2 it was called or configured wrongly. */
export type ExitCode = 1 | 2;

/**
 * The exit code for an error code (the CLI edge's table). Exhaustive: a new code does not compile
 * until it is placed here.
 */
export function exitCodeOf(code: ErrorCode): ExitCode {
  switch (code) {
    // Fix the command line, the environment or scopes.json, then run it again.
    case 'ERR_USAGE':
    case 'ERR_CONFIG':
    case 'ERR_CATALOGUE':
    case 'ERR_FEDERATION_CONFIG':
      return 2;
    case 'ERR_DATABASE_IN_USE':
    case 'ERR_AUDIT_SOURCE':
    case 'ERR_NOT_FOUND':
    case 'ERR_CONFLICT':
    case 'ERR_INVALID':
    case 'ERR_VALIDATION':
    case 'ERR_INVALID_REQUEST':
    case 'ERR_MALFORMED_JSON':
    case 'ERR_BODY_TOO_LARGE':
    case 'ERR_UNSUPPORTED_MEDIA_TYPE':
    case 'ERR_JSON_REQUIRED':
    case 'ERR_METHOD_NOT_ALLOWED':
    case 'ERR_RATE_LIMITED':
    case 'ERR_CSRF':
    case 'ERR_TEMPORARILY_UNAVAILABLE':
    case 'ERR_UNAUTHORIZED':
    case 'ERR_INVALID_TOKEN':
    case 'ERR_INSUFFICIENT_SCOPE':
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
    case 'ERR_NOT_MCP_SERVER':
    case 'ERR_INELIGIBLE':
    case 'ERR_TICKET_NOT_FOUND':
    case 'ERR_TICKET_CLOSED':
    case 'ERR_SELF_APPROVAL':
    case 'ERR_NOT_APPROVER':
    case 'ERR_ALREADY_DECIDED':
    case 'ERR_FEDERATION_STATE':
    case 'ERR_UPSTREAM_UNAVAILABLE':
    case 'ERR_UPSTREAM_INVALID':
    case 'ERR_UPSTREAM_DENIED':
    case 'ERR_ACCOUNT_LINK_REFUSED':
    case 'ERR_LOCAL_LOGIN_DISABLED':
    case 'ERR_PASSKEY_REQUIRED':
    case 'ERR_PASSKEY_INVALID':
      return 1;
    default: {
      const _exhaustive: never = code;
      return _exhaustive;
    }
  }
}

/**
 * What the command line prints and exits with for a failure: a domain error's public message and
 * {@link exitCodeOf} its code; anything else `failed:` with the first line of its message, exit 1.
 */
export function cliFailure(err: unknown): { message: string; exitCode: ExitCode } {
  if (err instanceof AppError) return { message: err.message, exitCode: exitCodeOf(err.code) };
  const text = (err as { message?: string } | null)?.message;
  return { message: `failed: ${(text ?? String(err)).split('\n')[0]}`, exitCode: 1 };
}
