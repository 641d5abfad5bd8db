import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import type { Database } from './schema.ts';

/** A database handle plus how to close it. */
export interface Db {
  readonly db: Kysely<Database>;
  /** `postgres` for a real server, `pglite` for the embedded one. */
  readonly kind: 'postgres' | 'pglite';
  close(): Promise<void>;
}

// Return bigint (int8) columns as strings, never as lossy numbers.
pg.types.setTypeParser(20, (v) => v);

/**
 * Opens the database: PostgreSQL when `databaseUrl` is given, else embedded PGlite stored under
 * `dataDir/pglite` (or in memory when `dataDir` is `:memory:`). Both speak the same SQL, so the
 * same migrations and repositories serve both.
 */
export async function connect(opts: { databaseUrl?: string; dataDir: string; poolSize?: number }): Promise<Db> {
  if (opts.databaseUrl) {
    // A bounded connect time: during a database outage requests fail fast (503) instead of hanging.
    const pool = new pg.Pool({ connectionString: opts.databaseUrl, max: opts.poolSize ?? 10, connectionTimeoutMillis: 5_000 });
    // A client losing its connection (database restart) must not crash the process: idle ones
    // report on the pool, checked-out ones on themselves; the query in flight fails either way.
    pool.on('error', () => {});
    pool.on('connect', (client) => client.on('error', () => {}));
    const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
    return { db, kind: 'postgres', close: () => db.destroy() };
  }
  const [{ PGlite }, { PGliteDialect }] = await Promise.all([
    import('@electric-sql/pglite'),
    import('kysely-pglite-dialect'),
  ]);
  let dir: string | undefined;
  if (opts.dataDir !== ':memory:') {
    dir = join(opts.dataDir, 'pglite');
    await mkdir(dir, { recursive: true });
  }
  const pglite = dir ? new PGlite(dir) : new PGlite();
  await pglite.waitReady;
  const db = new Kysely<Database>({ dialect: new PGliteDialect(pglite) });
  return { db, kind: 'pglite', close: () => db.destroy() };
}
