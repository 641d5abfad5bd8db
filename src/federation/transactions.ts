import { createHash, randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Database } from '../db/schema.ts';

/** Where a federated sign-in returns: an authorization flow's interaction, or a web page. */
export type ReturnTarget = { kind: 'interaction'; uid: string } | { kind: 'web'; next: string };

/** A sign-in between its start and its callback. */
export interface FederationTransaction {
  upstreamId: string;
  state: string;
  nonce: string;
  codeVerifier: string;
  returnTo: ReturnTarget;
  expiresAt: Date;
}

const hash = (key: string) => createHash('sha256').update(key).digest('base64url');

/**
 * Sign-ins in flight through an upstream, one row each (table `federation_transaction`). Rules:
 * - the browser holds only a random key (in a signed, httpOnly cookie) and the row is found by
 *   its SHA-256: the transaction is bound to the browser that started it;
 * - {@link consume} deletes the row it returns in one statement, so a callback is answered once
 *   even with several instances (a replayed callback finds nothing);
 * - rows expire; expired ones are never returned and are deleted by {@link deleteExpired}.
 */
export class FederationTransactions {
  readonly #db: Kysely<Database>;
  readonly #now: () => Date;

  constructor(db: Kysely<Database>, now: () => Date = () => new Date()) {
    this.#db = db;
    this.#now = now;
  }

  /** Stores a transaction; returns the key the browser must present at the callback. */
  async create(tx: FederationTransaction): Promise<string> {
    const key = randomBytes(32).toString('base64url');
    await this.#db
      .insertInto('federation_transaction')
      .values({
        key_hash: hash(key),
        upstream_id: tx.upstreamId,
        state: tx.state,
        nonce: tx.nonce,
        code_verifier: tx.codeVerifier,
        return_to: JSON.stringify(tx.returnTo),
        expires_at: tx.expiresAt,
      })
      .execute();
    return key;
  }

  /** The transaction of `key`, deleted as it is read; undefined when unknown, used or expired. */
  async consume(key: string): Promise<FederationTransaction | undefined> {
    const row = await this.#db
      .deleteFrom('federation_transaction')
      .where('key_hash', '=', hash(key))
      .returningAll()
      .executeTakeFirst();
    if (!row || new Date(row.expires_at) <= this.#now()) return undefined;
    return {
      upstreamId: row.upstream_id,
      state: row.state,
      nonce: row.nonce,
      codeVerifier: row.code_verifier,
      returnTo: row.return_to as unknown as ReturnTarget,
      expiresAt: new Date(row.expires_at),
    };
  }

  /** Deletes abandoned transactions; returns how many. */
  async deleteExpired(): Promise<number> {
    const res = await this.#db
      .deleteFrom('federation_transaction')
      .where('expires_at', '<=', this.#now())
      .executeTakeFirst();
    return Number(res.numDeletedRows);
  }
}
