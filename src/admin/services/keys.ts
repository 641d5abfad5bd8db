import type { Kysely } from 'kysely';
import type { AuditLog } from '../../audit/audit-log.ts';
import type { Database } from '../../db/schema.ts';
import { rotateSigningKey } from '../../keys/keystore.ts';
import { rotateAuditKey } from '../../audit/audit-keys.ts';
import type { AdminActor } from '../auth.ts';
import { adminEvent } from './common.ts';
import { DEFAULTS } from '../../config/defaults.ts';

/** How long superseded signing keys stay published: longer than any token they signed lives. */
export const RETIRED_KEY_PUBLISHED_SECONDS = DEFAULTS.retiredKeyPublishedSeconds;

/** Dependencies of {@link KeyAdminService}. */
export interface KeyAdminDeps {
  db: Kysely<Database>;
  audit: AuditLog;
}

/**
 * Signing key administration. A rotation and its audit event commit together. Running servers
 * sign with the keys they loaded at start: they use (and publish) the new key once restarted.
 */
export class KeyAdminService {
  readonly #deps: KeyAdminDeps;

  constructor(deps: KeyAdminDeps) {
    this.#deps = deps;
  }

  /** Adds a new ES256 signing key; the previous ones stay published for a day. */
  async rotate(actor: AdminActor): Promise<{ kid: string; retiring: string[] }> {
    return rotateSigningKey(this.#deps.db, RETIRED_KEY_PUBLISHED_SECONDS, (trx, rotated) =>
      this.#deps.audit
        .appendIn(trx, [
          adminEvent(actor, 'signing_key.rotated', {
            kid: rotated.kid,
            retiring: rotated.retiring,
            publishedForSeconds: RETIRED_KEY_PUBLISHED_SECONDS,
          }),
        ])
        .then(() => {}),
    );
  }

  /**
   * Adds a new audit checkpoint key; the previous ones lose their private half and stay published
   * at `/audit/v1/jwks` (old checkpoints must stay verifiable).
   */
  async rotateAudit(actor: AdminActor): Promise<{ kid: string; retired: string[] }> {
    return rotateAuditKey(this.#deps.db, (trx, rotated) =>
      this.#deps.audit
        .appendIn(trx, [adminEvent(actor, 'audit_key.rotated', { ...rotated })])
        .then(() => {}),
    );
  }
}
