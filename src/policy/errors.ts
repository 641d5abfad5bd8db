/**
 * Stable error codes of the policy engine. Callers branch on `code`, never on `message`, so these
 * strings are part of the public contract.
 */
export type PolicyErrorCode =
  | 'ERR_ROLE_CYCLE'
  | 'ERR_ROLE_UNKNOWN_PARENT'
  | 'ERR_ROLE_DUPLICATE'
  | 'ERR_ROLE_UNKNOWN'
  | 'ERR_CATALOGUE_INVALID';

/**
 * Thrown when policy data is unacceptable (a role set with a cycle, a catalogue that does not
 * validate). A caller's programming mistake (wrong argument type, invalid `Date`) throws a plain
 * `TypeError` instead, so edges can map `PolicyError` to a 4xx and everything else to a 500.
 */
export class PolicyError extends Error {
  /** Stable machine-readable code, e.g. `ERR_ROLE_CYCLE`. */
  readonly code: PolicyErrorCode;
  /** Structured detail naming what is wrong (roles, paths); safe to log, not to show verbatim. */
  readonly data: Readonly<Record<string, unknown>>;

  constructor(code: PolicyErrorCode, message: string, data: Record<string, unknown> = {}) {
    super(message);
    this.name = 'PolicyError';
    this.code = code;
    this.data = Object.freeze({ ...data });
  }
}
