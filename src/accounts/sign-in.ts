import type { AuditLog } from '../audit/audit-log.ts';
import { normaliseEmail } from './email.ts';
import type { LoginThrottle } from './login-limiter.ts';
import { dummyHash, verifyPassword } from './password.ts';
import type { UserRepository } from './users.ts';
import { truncateCodePoints } from '../http/text.ts';

/** Longest email (RFC 5321 path limit, in code points) and password the forms accept. */
const MAX_EMAIL = 320;
const MAX_PASSWORD = 1024;
// Characters no stored address can hold: looking them up can only miss, and NUL or a lone
// surrogate would not even reach the database as text.
const UNSTORABLE = /[\p{Cc}\p{Cs}]/u;

/** A sign-in attempt as a form posts it: untrusted values. */
export interface SignInAttempt {
  email: unknown;
  password: unknown;
  /** The client's address (Koa's `ctx.ip`), the second throttle key. */
  address: string;
  /** Audit action of the form: `login` (authorization) or `approver.login` (approval pages). */
  action: 'login' | 'approver.login';
}

/** The outcome; `email` is the normalised spelling, for redisplay in the form. */
export type SignInResult =
  | { kind: 'signed-in'; email: string; userId: string }
  | { kind: 'refused'; email: string }
  | { kind: 'throttled'; email: string; retryAfter: number }
  /** `LOCAL_LOGIN=false` and not a correct break-glass sign-in (wrong passwords included). */
  | { kind: 'local-login-off'; email: string };

/** The account attribute that keeps password sign-in open under `LOCAL_LOGIN=false`. */
export const BREAK_GLASS_ATTRIBUTE = 'breakGlass';

/**
 * The one sign-in service behind every password form (ARCHITECTURE.md §8). In order:
 * 1. normalise the email once ({@link normaliseEmail}): lookup, throttle and audit all use it;
 * 2. count the attempt against the account and the address ({@link LoginThrottle}); over budget
 *    the password is not even checked;
 * 3. look the account up and verify the password (an unknown account costs a hash check too,
 *    so timing does not reveal which emails exist); disabled accounts never sign in;
 * 4. record the outcome (a success clears the account's counter);
 * 5. audit the attempt under the form's action, with the normalised email on failures and
 *    never the password;
 * 6. with `localLogin` false, only a break-glass account (attribute `breakGlass: true`) with its
 *    right password signs in; every other attempt, a wrong password included, gets the same
 *    `local-login-off` answer, so the form does not tell which accounts are break-glass ones.
 */
export class SignInService {
  readonly #users: UserRepository;
  readonly #throttle: LoginThrottle;
  readonly #audit: AuditLog;
  readonly #localLogin: boolean;

  /** @param deps.localLogin - `LOCAL_LOGIN`; default true. */
  constructor(deps: {
    users: UserRepository;
    throttle: LoginThrottle;
    audit: AuditLog;
    localLogin?: boolean;
  }) {
    this.#users = deps.users;
    this.#throttle = deps.throttle;
    this.#audit = deps.audit;
    this.#localLogin = deps.localLogin ?? true;
  }

  /** Whether the password forms are offered (`LOCAL_LOGIN`). */
  get localLogin(): boolean {
    return this.#localLogin;
  }

  async signIn(attempt: SignInAttempt): Promise<SignInResult> {
    const raw =
      typeof attempt.email === 'string' ? truncateCodePoints(attempt.email, MAX_EMAIL * 4) : '';
    const normalised = truncateCodePoints(normaliseEmail(raw), MAX_EMAIL);
    const storable = !UNSTORABLE.test(normalised);
    const email = storable
      ? normalised
      : normalised.replace(new RegExp(UNSTORABLE, 'gu'), '\uFFFD');
    const password =
      typeof attempt.password === 'string'
        ? truncateCodePoints(attempt.password, MAX_PASSWORD)
        : '';
    const { address, action } = attempt;

    const retryAfter = await this.#throttle.attempt(storable ? email : '', address);
    if (retryAfter > 0) {
      await this.#audit.append({
        action,
        result: 'denied',
        data: { email, address, reason: 'throttled' },
      });
      return { kind: 'throttled', email, retryAfter };
    }
    const row = email && storable ? await this.#users.findCredentials(email) : undefined;
    const ok = await verifyPassword(password, row?.password_hash ?? (await dummyHash()));
    const breakGlass = row?.attributes?.[BREAK_GLASS_ATTRIBUTE] === true;
    if (!row || !ok || row.disabled || (!this.#localLogin && !breakGlass)) {
      await this.#audit.append({
        action,
        result: 'failure',
        actor: row?.id ?? null,
        data: {
          email,
          address,
          ...(this.#localLogin ? {} : { reason: 'local_login_disabled' }),
        },
      });
      return this.#localLogin ? { kind: 'refused', email } : { kind: 'local-login-off', email };
    }
    await this.#throttle.succeeded(email, address);
    await this.#audit.append({
      action,
      result: 'success',
      actor: row.id,
      subject: row.id,
      data: { address, ...(this.#localLogin ? {} : { breakGlass: true }) },
    });
    return { kind: 'signed-in', email, userId: row.id };
  }
}
