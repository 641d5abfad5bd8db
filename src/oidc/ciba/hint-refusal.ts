/** The CIBA hints a backchannel authentication request names its user by (OpenID CIBA Core §7.1). */
export type CibaHint = 'login_hint_token' | 'id_token_hint' | 'login_hint';

const REFUSED_HINT = Symbol('mcp-elevate.refusedHint');

/**
 * Marks `error` as a refusal of the request's `hint` and returns it, for `throw refuseHint(…)`.
 * The security events (`oidc/security-events.ts`) record a `ciba.hint_refused` event for errors
 * so marked, whatever their wording: the one place that says which hint a refusal is about.
 */
export function refuseHint<E extends Error>(hint: CibaHint, error: E): E {
  Object.defineProperty(error, REFUSED_HINT, { value: hint });
  return error;
}

/** The hint `error` refused (see {@link refuseHint}), or undefined for any other error. */
export function refusedHintOf(error: unknown): CibaHint | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  return (error as { [REFUSED_HINT]?: CibaHint })[REFUSED_HINT];
}
