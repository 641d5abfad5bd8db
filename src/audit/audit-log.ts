import { createHash, randomUUID } from 'node:crypto';
import { sql, type Kysely, type Transaction } from 'kysely';
import type { AuditRow, Database } from '../db/schema.ts';
import { redact } from '../verifier/observability/redact.ts';
import { canonicalJson } from '../policy/index.ts';

/** One audit event as services write it. */
export interface AuditInput {
  action: string;
  result: 'success' | 'failure' | 'denied' | string;
  actor?: string | null;
  subject?: string | null;
  clientId?: string | null;
  resource?: string | null;
  data?: Record<string, unknown>;
  /** Caller-chosen id (ingest is idempotent by it); a UUID when absent. */
  id?: string;
  time?: Date;
}

/** Hash of the first event's predecessor. */
export const GENESIS = '0'.repeat(64);

/** The hash that chains `row` to its predecessor: SHA-256 over the previous hash and the event's canonical JSON. */
export function eventHash(prevHash: string, e: { id: string; time: Date; actor: string | null; action: string; result: string; subject: string | null; client_id: string | null; resource: string | null; data: unknown }): string {
  const body = canonicalJson({
    id: e.id, time: e.time.toISOString(), actor: e.actor, action: e.action, result: e.result,
    subject: e.subject, client_id: e.client_id, resource: e.resource, data: e.data,
  });
  return createHash('sha256').update(prevHash).update('\n').update(body).digest('hex');
}

/**
 * Append-only, hash-chained audit log (tamper-evident: changing any row breaks the chain from
 * there on). Appends are serialised by a table lock so the chain never forks, even across
 * instances; parameters are redacted before they are stored.
 */
export class AuditLog {
  readonly #db: Kysely<Database>;

  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  /** Appends events in one transaction; events whose id already exists are skipped (idempotent). Returns how many were new. */
  async append(...events: AuditInput[]): Promise<number> {
    if (!events.length) return 0;
    return this.#db.transaction().execute((trx) => this.appendIn(trx, events));
  }

  /** As {@link append}, inside the caller's transaction (the event commits with the change it records). */
  async appendIn(trx: Transaction<Database>, events: AuditInput[]): Promise<number> {
    await sql`lock table audit_event in share row exclusive mode`.execute(trx);
    const ids = events.map((e) => e.id ?? randomUUID());
    const existing = new Set((await trx.selectFrom('audit_event').select('id').where('id', 'in', ids).execute()).map((r) => r.id));
    const last = await trx.selectFrom('audit_event').select('hash').orderBy('seq', 'desc').limit(1).executeTakeFirst();
    let prev = last?.hash ?? GENESIS;
    const rows = [];
    for (const [i, e] of events.entries()) {
      const id = ids[i]!;
      if (existing.has(id)) continue;
      existing.add(id);
      const row = {
        id,
        time: e.time ?? new Date(),
        actor: e.actor ?? null,
        action: e.action,
        result: e.result,
        subject: e.subject ?? null,
        client_id: e.clientId ?? null,
        resource: e.resource ?? null,
        data: redact(e.data ?? {}) as Record<string, unknown>,
      };
      const hash = eventHash(prev, row);
      rows.push({ ...row, data: JSON.stringify(row.data), prev_hash: prev, hash });
      prev = hash;
    }
    for (let i = 0; i < rows.length; i += 500) await trx.insertInto('audit_event').values(rows.slice(i, i + 500)).execute();
    return rows.length;
  }

  /**
   * Walks the chain in order and reports the first row whose stored hash or link does not match
   * what its content implies.
   */
  async verify(): Promise<{ ok: true; count: number } | { ok: false; count: number; brokenAt: { seq: string; id: string; reason: string } }> {
    let prev = GENESIS;
    let count = 0;
    let after = '0';
    for (;;) {
      const rows: AuditRow[] = await this.#db.selectFrom('audit_event').selectAll()
        .where('seq', '>', after).orderBy('seq').limit(1000).execute();
      if (!rows.length) return { ok: true, count };
      for (const r of rows) {
        const reason = r.prev_hash !== prev ? 'link to previous event broken'
          : eventHash(prev, r) !== r.hash ? 'content does not match its hash' : undefined;
        if (reason) return { ok: false, count, brokenAt: { seq: r.seq, id: r.id, reason } };
        prev = r.hash;
        count++;
      }
      after = rows.at(-1)!.seq;
    }
  }
}
