import type { Kysely } from 'kysely';
import type Provider from 'oidc-provider';
import type { Database } from '../db/schema.ts';
import type { Catalogue } from '../policy/index.ts';
import type { ElevationService } from '../elevation/service.ts';
import type { UserRepository } from '../accounts/users.ts';
import type { SignInService } from '../accounts/sign-in.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import type { Csrf } from '../http/csrf.ts';
import type { PasskeyService } from '../passkeys/service.ts';

/** What the approval pages need from the composition root. */
export interface ApprovalDeps {
  elevation: ElevationService;
  users: UserRepository;
  catalogue: Catalogue;
  audit: AuditLog;
  /** Signs form tokens; bound here to the web session id. */
  csrf: Csrf;
  /** The one sign-in service (shared with the authorization form). */
  signIn: SignInService;
  /** Read-only queries (pending list, decisions). */
  db: Kysely<Database>;
  /** Passkeys of approvers: verifies the assertion of an approval that needs one. */
  passkeys: PasskeyService;
  /** Looks up agent (client) names. */
  provider: Provider;
  /** Clock of "time left" and of which tickets are still open. Default `() => new Date()`. */
  currentDate?: () => Date;
}
