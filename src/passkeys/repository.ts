import { randomUUID } from 'node:crypto';
import type { Kysely, Transaction } from 'kysely';
import type { Database, PasskeyRow } from '../db/schema.ts';

type Db = Kysely<Database> | Transaction<Database>;

/** A passkey as the rest of the server sees it (no public key). */
export interface PasskeySummary {
  id: string;
  name: string;
  deviceType: 'singleDevice' | 'multiDevice';
  backedUp: boolean;
  createdAt: Date;
  lastUsedAt: Date | null;
}

/** A new passkey, as a verified registration gives it. */
export interface NewPasskey {
  credentialId: string;
  userId: string;
  publicKey: Uint8Array;
  counter: number;
  transports: string[];
  deviceType: 'singleDevice' | 'multiDevice';
  backedUp: boolean;
  name: string;
}

/** What a challenge was issued for. */
export interface ChallengeBinding {
  userId: string;
  purpose: 'register' | 'approve';
  ticketId?: string;
  decision?: 'approve' | 'deny';
}

/** A consumed challenge, as it was issued. */
export interface IssuedChallenge extends ChallengeBinding {
  issuedAt: Date;
}

const asDate = (v: unknown) => (v instanceof Date ? v : new Date(String(v)));

export const summary = (r: PasskeyRow): PasskeySummary => ({
  id: r.id,
  name: r.name,
  deviceType: r.device_type,
  backedUp: r.backed_up,
  createdAt: asDate(r.created_at),
  lastUsedAt: r.last_used_at ? asDate(r.last_used_at) : null,
});

/** Passkeys and ceremony challenges in the database (shared by every instance). */
export class PasskeyRepository {
  readonly #db: Kysely<Database>;

  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  /** A user's passkeys, oldest first. */
  async list(userId: string): Promise<PasskeyRow[]> {
    return this.#db
      .selectFrom('passkey')
      .selectAll()
      .where('user_id', '=', userId)
      .orderBy('created_at')
      .orderBy('id')
      .execute();
  }

  async byCredentialId(credentialId: string): Promise<PasskeyRow | undefined> {
    return this.#db
      .selectFrom('passkey')
      .selectAll()
      .where('credential_id', '=', credentialId)
      .executeTakeFirst();
  }

  /** Stores a passkey; undefined when the credential is already registered (to anyone). */
  async insert(p: NewPasskey, db: Db = this.#db): Promise<PasskeyRow | undefined> {
    return db
      .insertInto('passkey')
      .values({
        id: randomUUID(),
        credential_id: p.credentialId,
        user_id: p.userId,
        public_key: p.publicKey,
        counter: p.counter,
        transports: JSON.stringify(p.transports),
        device_type: p.deviceType,
        backed_up: p.backedUp,
        name: p.name,
      })
      .onConflict((oc) => oc.column('credential_id').doNothing())
      .returningAll()
      .executeTakeFirst();
  }

  /** Deletes one of the user's own passkeys; undefined when it is not theirs (or gone). */
  async remove(userId: string, id: string, db: Db = this.#db): Promise<PasskeyRow | undefined> {
    return db
      .deleteFrom('passkey')
      .where('id', '=', id)
      .where('user_id', '=', userId)
      .returningAll()
      .executeTakeFirst();
  }

  /** Records a successful assertion: its signature counter and when. */
  async used(id: string, counter: number, at: Date, backedUp: boolean): Promise<void> {
    await this.#db
      .updateTable('passkey')
      .set({ counter, last_used_at: at, backed_up: backedUp })
      .where('id', '=', id)
      .execute();
  }

  /** Stores a challenge issued now for `binding`, valid until `expiresAt`. */
  async issue(
    challenge: string,
    binding: ChallengeBinding,
    now: Date,
    expiresAt: Date,
  ): Promise<void> {
    await this.#db
      .insertInto('webauthn_challenge')
      .values({
        challenge,
        user_id: binding.userId,
        purpose: binding.purpose,
        ticket_id: binding.ticketId ?? null,
        decision: binding.decision ?? null,
        created_at: now,
        expires_at: expiresAt,
      })
      .execute();
  }

  /**
   * Consumes a challenge of `userId` for `purpose`, once: the one update that marks it used
   * succeeds for one caller only, on any instance. Undefined when unknown, another user's or
   * purpose's, already used or expired at `now`.
   */
  async consume(
    challenge: string,
    userId: string,
    purpose: ChallengeBinding['purpose'],
    now: Date,
  ): Promise<IssuedChallenge | undefined> {
    const row = await this.#db
      .updateTable('webauthn_challenge')
      .set({ used: true })
      .where('challenge', '=', challenge)
      .where('user_id', '=', userId)
      .where('purpose', '=', purpose)
      .where('used', '=', false)
      .where('expires_at', '>', now)
      .returningAll()
      .executeTakeFirst();
    if (!row) return undefined;
    return {
      userId: row.user_id,
      purpose: row.purpose,
      ...(row.ticket_id ? { ticketId: row.ticket_id } : {}),
      ...(row.decision ? { decision: row.decision } : {}),
      issuedAt: asDate(row.created_at),
    };
  }
}

/** Deletes challenges past their expiry (used or not); returns how many. */
export async function deleteExpiredChallenges(
  db: Kysely<Database>,
  now = new Date(),
): Promise<number> {
  const r = await db.deleteFrom('webauthn_challenge').where('expires_at', '<=', now).execute();
  return Number(r[0]?.numDeletedRows ?? 0);
}
