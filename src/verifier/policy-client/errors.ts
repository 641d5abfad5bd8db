/** Stable codes of {@link PolicyClientError}. */
export type PolicyClientErrorCode =
  /** The bundle or revocation feed could not be fetched (network, timeout, HTTP status, size). */
  | 'ERR_POLICY_FETCH'
  /** A signed document failed verification: signature, unknown key, `typ`, `iss` or algorithm. */
  | 'ERR_POLICY_SIGNATURE'
  /** A verified (or local) policy is not a valid catalogue and role set. */
  | 'ERR_POLICY_INVALID'
  /** A bundle older than the one held, i.e. a replay; the held one stays. */
  | 'ERR_POLICY_STALE'
  /** The revocation feed answered something unusable (bad payload, cursor going backwards). */
  | 'ERR_REVOCATIONS_INVALID';

/**
 * Why a policy bundle or revocation page was not taken. Reported through the `onError` option
 * and by `ready()`; the client keeps serving what it last accepted.
 */
export class PolicyClientError extends Error {
  readonly code: PolicyClientErrorCode;

  constructor(code: PolicyClientErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'PolicyClientError';
    this.code = code;
  }
}
