import type Provider from 'oidc-provider';
import type { Kysely } from 'kysely';
import type { Database } from '../../db/schema.ts';
import type { UserRepository } from '../../accounts/users.ts';
import type { Csrf } from '../../http/csrf.ts';
import type { AdminActor, AdminAuthenticator, AnyRoute } from '../../admin/index.ts';
import type { SignedIn } from '../sign-in.ts';

/** What the console needs from the composition root. */
export interface ConsoleDeps {
  issuer: string;
  provider: Provider;
  db: Kysely<Database>;
  users: UserRepository;
  /** Effective roles of a user (the token verifier's own lookup). */
  roles: { effectiveForUser(id: string): Promise<string[]> };
  /** The admin API's one token check. */
  authenticator: AdminAuthenticator;
  /** The admin API's route table: every page reads and changes through these handlers. */
  routes: readonly AnyRoute[];
  /** Signs form tokens, bound to the web session id. */
  csrf: Csrf;
  /** The server's current cookie key; the console's sealed cookies are keyed from it. */
  cookieKey: string;
  /**
   * Sends the token request of the console's authorization code grant. Default: `fetch` to the
   * issuer's token endpoint. Tests and proxies may route it elsewhere.
   */
  fetch?: typeof fetch;
  /** Clock of "time left". Default `() => new Date()`. */
  currentDate?: () => Date;
}

/** Who a console request acts for: the signed-in person and the admin their token proves. */
export interface ConsoleState {
  me: SignedIn;
  actor: AdminActor;
  /** The CSRF token of this web session, for every form on the page. */
  csrf: string;
}
