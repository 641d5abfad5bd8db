import type { PolicyErrorCode } from './policy/index.ts';

/**
 * Every stable error code of the server half. Services throw {@link AppError}s carrying one of
 * these; each edge maps a code to its own protocol once, in a table the compiler checks for
 * completeness: HTTP status and problem `code` in `http/problem.ts`, OAuth `error` in
 * `http/oauth-error.ts`, exit code in `cli-errors.ts`. No HTTP status lives in an error.
 *
 * The verifier (`verifier/errors.ts`) and the own-token verifier (`tokens/errors.ts`) have codes
 * of their own, mapped at their own edges.
 */
export type ErrorCode =
  // Requests that do not fit the API.
  /** Nothing at this path or with this id. */
  | 'ERR_NOT_FOUND'
  /** The change conflicts with what exists (a duplicate email, …). */
  | 'ERR_CONFLICT'
  /** A form or field value is not acceptable; `detail.field` names it. */
  | 'ERR_INVALID'
  /** A request part fails its schema; `detail.errors` lists every field (`FieldError[]`). */
  | 'ERR_VALIDATION'
  /** A request that protocol endpoints refuse as a whole (OAuth's `invalid_request`). */
  | 'ERR_INVALID_REQUEST'
  /** A JSON body that is not well-formed, or not an object or array. */
  | 'ERR_MALFORMED_JSON'
  /** A body larger than the route reads. */
  | 'ERR_BODY_TOO_LARGE'
  /** A body in an encoding, charset or media type the admin API does not read. */
  | 'ERR_UNSUPPORTED_MEDIA_TYPE'
  /** A body that is not `application/json` where only JSON is read (audit ingest). */
  | 'ERR_JSON_REQUIRED'
  /** A known path with another method; `detail.allow` lists the methods it takes. */
  | 'ERR_METHOD_NOT_ALLOWED'
  /** Too many requests from this caller; the edge sets `Retry-After`. */
  | 'ERR_RATE_LIMITED'
  /** A form post without this site's CSRF token. */
  | 'ERR_CSRF'
  /** A dependency (the database) is unreachable for now; the edge sets `Retry-After`. */
  | 'ERR_TEMPORARILY_UNAVAILABLE'
  // Bearer token authentication (RFC 6750 §3.1); see `BearerError`.
  /** No credential at all. */
  | 'ERR_UNAUTHORIZED'
  /** A credential that is not a current token of this server for this use. */
  | 'ERR_INVALID_TOKEN'
  /** A valid token that is not enough (scope, subject, role). */
  | 'ERR_INSUFFICIENT_SCOPE'
  // Admin API rules.
  /** A named role, group, user, scope or resource does not exist. */
  | 'ERR_UNKNOWN_REFERENCE'
  /** An admin would disable, demote or delete their own account. */
  | 'ERR_SELF_LOCKOUT'
  | 'ERR_GROUP_EXISTS'
  /** A group still approves scopes of the catalogue. */
  | 'ERR_GROUP_IN_USE'
  | 'ERR_ROLE_EXISTS'
  /** A role is still held, inherited or named by a scope. */
  | 'ERR_ROLE_IN_USE'
  | 'ERR_ALREADY_REVOKED'
  /** Client metadata breaks a registration rule. */
  | 'ERR_INVALID_CLIENT_METADATA'
  /** The policy engine's verdicts on a role set, passed through with their own codes. */
  | PolicyErrorCode
  // Audit ingest.
  /** The client is not the registered MCP server of any resource. */
  | 'ERR_NOT_MCP_SERVER'
  // Elevation rules (`elevation/errors.ts`).
  /** The principal lacks the role an elevated scope requires. */
  | 'ERR_INELIGIBLE'
  | 'ERR_TICKET_NOT_FOUND'
  /** The ticket is no longer pending; `detail.status` says what it is. */
  | 'ERR_TICKET_CLOSED'
  | 'ERR_SELF_APPROVAL'
  | 'ERR_NOT_APPROVER'
  | 'ERR_ALREADY_DECIDED'
  // Enterprise sign-in (`federation/`).
  /** A callback that does not belong to a sign-in this browser started (state, replay, `iss`). */
  | 'ERR_FEDERATION_STATE'
  /** The upstream identity provider cannot be reached now. */
  | 'ERR_UPSTREAM_UNAVAILABLE'
  /** The upstream identity provider answered something that fails validation. */
  | 'ERR_UPSTREAM_INVALID'
  /** The upstream refused the sign-in, or its identity cannot sign in here. */
  | 'ERR_UPSTREAM_DENIED'
  /** An upstream identity whose email belongs to a local account it may not be linked to. */
  | 'ERR_ACCOUNT_LINK_REFUSED'
  /** Password sign-in is turned off (`LOCAL_LOGIN=false`). */
  | 'ERR_LOCAL_LOGIN_DISABLED'
  /** Approving needs a fresh passkey assertion bound to the ticket and the decision. */
  | 'ERR_PASSKEY_REQUIRED'
  // Passkeys (`passkeys/`).
  /** A WebAuthn response that does not verify, or whose challenge is unknown, used or expired. */
  | 'ERR_PASSKEY_INVALID'
  // Audit verification.
  /** A checkpoint or key source (file, folder, URL) the verification needs cannot be read. */
  | 'ERR_AUDIT_SOURCE'
  // Start and command line: never an HTTP answer.
  /** Bad command-line input. */
  | 'ERR_USAGE'
  /** An invalid environment variable. */
  | 'ERR_CONFIG'
  /** scopes.json cannot be read or is invalid. */
  | 'ERR_CATALOGUE'
  /** The federation file (`FEDERATION_FILE`) cannot be read or is invalid. */
  | 'ERR_FEDERATION_CONFIG'
  /** The embedded database is owned by another process. */
  | 'ERR_DATABASE_IN_USE';

/**
 * A domain error with a stable {@link ErrorCode} (jose's discipline: branch on `code`, never on
 * `message`). `message` is safe to show to the caller; `detail` is structured data that is safe
 * to send too (field errors, names of the roles involved); anything internal goes in `cause`.
 */
export class AppError<C extends ErrorCode = ErrorCode> extends Error {
  readonly code: C;
  readonly detail?: Readonly<Record<string, unknown>>;

  constructor(code: C, message: string, detail?: Record<string, unknown>, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
    if (detail) this.detail = detail;
  }
}

/**
 * Whether `err` is an {@link AppError} with one of `codes` (any code when none is given); the
 * codes are checked by the compiler, so a misspelt one does not compile.
 */
export function isAppError<C extends ErrorCode>(err: unknown, ...codes: C[]): err is AppError<C> {
  return err instanceof AppError && (codes.length === 0 || codes.includes(err.code as C));
}

/** `<what> not found` (`ERR_NOT_FOUND`). */
export const notFound = (what: string, detail?: Record<string, unknown>) =>
  new AppError('ERR_NOT_FOUND', `${what} not found`, detail);
/** A conflict with what exists (`ERR_CONFLICT`). */
export const conflict = (message: string, detail?: Record<string, unknown>) =>
  new AppError('ERR_CONFLICT', message, detail);
/** A value that is not acceptable (`ERR_INVALID`). */
export const invalid = (message: string, detail?: Record<string, unknown>) =>
  new AppError('ERR_INVALID', message, detail);
