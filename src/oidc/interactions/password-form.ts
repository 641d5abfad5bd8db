import type { SignInService } from '../../accounts/sign-in.ts';

/** The answer to a password post under `LOCAL_LOGIN=false` (break-glass accounts excepted). */
export const LOCAL_LOGIN_OFF =
  'Password sign-in is turned off on this server. Sign in with your organisation instead.';

/**
 * Whether the password form shows, and where it posts: always with `LOCAL_LOGIN` on; otherwise
 * only at the documented break-glass address (`?break-glass`), which the form keeps.
 */
export function passwordForm(
  deps: { signIn: Pick<SignInService, 'localLogin'> },
  query: Record<string, unknown>,
  action: string,
): { passwordForm: boolean; action: string } {
  if (deps.signIn.localLogin) return { passwordForm: true, action };
  const breakGlass = query['break-glass'] !== undefined;
  return { passwordForm: breakGlass, action: breakGlass ? `${action}?break-glass` : action };
}
