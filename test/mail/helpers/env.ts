import type { Kysely } from 'kysely';
import { pino, type Logger } from 'pino';
import { connect, type Db } from '../../../src/db/connect.ts';
import { migrateToLatest } from '../../../src/db/migrate.ts';
import type { Database } from '../../../src/db/schema.ts';
import { createTestDatabase } from '../../helpers/databases.ts';

/** A migrated, empty database owned by one test. */
export interface OutboxTestDb {
  db: Kysely<Database>;
  /**
   * A second handle on the same database, as a second server instance would have: its own pool
   * on PostgreSQL; on PGlite, which is one in-process connection, the same Kysely.
   */
  secondHandle(): Promise<Kysely<Database>>;
  close(): Promise<void>;
}

/** Opens a fresh database of that kind and runs the migrations. */
export async function openTestDb(kind: 'pglite' | 'postgres'): Promise<OutboxTestDb> {
  const target = await createTestDatabase(kind);
  const handles: Db[] = [await connect({ databaseUrl: target.url, dataDir: ':memory:' })];
  await migrateToLatest(handles[0]!.db);
  return {
    db: handles[0]!.db,
    async secondHandle() {
      if (kind === 'pglite') return handles[0]!.db;
      const extra = await connect({ databaseUrl: target.url, dataDir: ':memory:' });
      handles.push(extra);
      return extra.db;
    },
    async close() {
      for (const h of handles.reverse()) await h.close();
      await target.drop();
    },
  };
}

/** A pino logger whose JSON lines the test can read back. */
export function captureLog(): {
  log: Logger;
  lines: () => Array<Record<string, unknown>>;
  text: () => string;
} {
  const chunks: string[] = [];
  const log = pino({ level: 'debug' }, { write: (s: string) => void chunks.push(s) });
  return {
    log,
    lines: () => chunks.map((c) => JSON.parse(c) as Record<string, unknown>),
    text: () => chunks.join(''),
  };
}

/** Polls until `check` returns a truthy value, or fails after `timeoutMs`. */
export async function waitFor<T>(
  check: () => T | Promise<T>,
  timeoutMs = 20_000,
  what = 'condition',
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** The single outbox row of a test that queued one message. */
export async function onlyRow(db: Kysely<Database>) {
  const rows = await db.selectFrom('mail_outbox').selectAll().execute();
  if (rows.length !== 1) throw new Error(`expected one outbox row, found ${rows.length}`);
  return rows[0]!;
}
