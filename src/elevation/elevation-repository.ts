import { randomUUID } from 'node:crypto';
import { sql, type Kysely, type QueryCreator, type Transaction } from 'kysely';
import type { Database, ElevationRow } from '../db/schema.ts';
import { claimDeadline } from './rules/index.ts';

type Q = Kysely<Database> | Transaction<Database>;

/**
 * Granted elevations: creation, activation on first token, revocation and the revocation feed.
 * Private to `elevation/`: everything else goes through the elevation service.
 */
export class ElevationRepository {
  readonly #db: Kysely<Database>;
  readonly #now: () => Date;

  constructor(db: Kysely<Database>, currentDate: () => Date) {
    this.#db = db;
    this.#now = currentDate;
  }

  async create(
    q: Q | QueryCreator<Database>,
    e: {
      id?: string;
      subject: string;
      clientId: string;
      scopes: string[];
      resource: string;
      lifetime: number;
      ticketId?: string;
      grantId?: string;
    },
  ): Promise<ElevationRow> {
    return q
      .insertInto('elevation')
      .values({
        id: e.id ?? randomUUID(),
        subject: e.subject,
        client_id: e.clientId,
        scopes: JSON.stringify(e.scopes),
        resource: e.resource,
        ticket_id: e.ticketId ?? null,
        lifetime: e.lifetime,
        claim_by: claimDeadline(this.#now()),
        grant_id: e.grantId ?? null,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
  }

  /** Records the grant an elevation was issued under (see {@link live}). */
  async attachGrant(id: string, grantId: string): Promise<void> {
    await this.#db
      .updateTable('elevation')
      .set({ grant_id: grantId })
      .where('id', '=', id)
      .execute();
  }

  /**
   * Live elevations of (subject, client, resource), newest first: not revoked, not expired, not
   * lapsed unclaimed. With `grantId`, only those issued under that grant — a token is bound to its
   * own flow's elevation, never to a concurrent one of the same user.
   */
  async live(
    subject: string,
    clientId: string,
    resource: string,
    grantId?: string,
  ): Promise<ElevationRow[]> {
    const now = this.#now();
    let q = this.#db.selectFrom('elevation').selectAll();
    if (grantId !== undefined) q = q.where('grant_id', '=', grantId);
    return q
      .where('subject', '=', subject)
      .where('client_id', '=', clientId)
      .where('resource', '=', resource)
      .where('revoked_at', 'is', null)
      .where((eb) =>
        eb.or([
          eb('expires_at', '>', now),
          eb.and([eb('expires_at', 'is', null), eb('claim_by', '>', now)]),
        ]),
      )
      .orderBy('created_at', 'desc')
      .limit(20)
      .execute();
  }

  /** Starts the elevation's window at its first token (idempotent: a window once started stays); returns its expiry. */
  async activate(id: string, expiresAt: Date): Promise<Date> {
    const row = await this.#db
      .updateTable('elevation')
      .set({ expires_at: sql<Date>`coalesce(expires_at, ${expiresAt})` })
      .where('id', '=', id)
      .returning('expires_at')
      .executeTakeFirstOrThrow();
    return row.expires_at!;
  }

  async find(id: string): Promise<ElevationRow | undefined> {
    return this.#db.selectFrom('elevation').selectAll().where('id', '=', id).executeTakeFirst();
  }

  /** Revokes an elevation once; returns the row, or undefined when there is no such live elevation. */
  async revoke(id: string, by: string, q: Q = this.#db): Promise<ElevationRow | undefined> {
    return q
      .updateTable('elevation')
      .set({
        revoked_at: this.#now(),
        revoked_by: by,
        revoke_seq: sql<string>`nextval('elevation_revoke_seq')`,
      })
      .where('id', '=', id)
      .where('revoked_at', 'is', null)
      .returningAll()
      .executeTakeFirst();
  }

  async list(
    opts: { subject?: string; live?: boolean; after?: string; limit?: number } = {},
  ): Promise<ElevationRow[]> {
    let q = this.#db
      .selectFrom('elevation')
      .selectAll()
      .orderBy('id')
      .limit(opts.limit ?? 100);
    if (opts.subject) q = q.where('subject', '=', opts.subject);
    if (opts.after) q = q.where('id', '>', opts.after);
    if (opts.live)
      q = q
        .where('revoked_at', 'is', null)
        .where((eb) => eb.or([eb('expires_at', '>', this.#now()), eb('expires_at', 'is', null)]));
    return q.execute();
  }

  /** Revocations after cursor `since` (a revocation sequence number), oldest first. */
  async revokedSince(
    since: string,
    limit = 500,
  ): Promise<Array<{ id: string; seq: string; revokedAt: Date; expiresAt: Date | null }>> {
    const rows = await this.#db
      .selectFrom('elevation')
      .select(['id', 'revoke_seq', 'revoked_at', 'expires_at'])
      .where('revoke_seq', 'is not', null)
      .where('revoke_seq', '>', since)
      .orderBy('revoke_seq')
      .limit(limit)
      .execute();
    return rows.map((r) => ({
      id: r.id,
      seq: r.revoke_seq!,
      revokedAt: r.revoked_at!,
      expiresAt: r.expires_at,
    }));
  }
}
