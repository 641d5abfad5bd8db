import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import type { Database } from './schema.ts';
import { openEmbedded } from './embedded.ts';
import type { LockInfo } from './owner-lock.ts';
import { DEFAULTS } from '../config/defaults.ts';

export { DatabaseInUseError } from './embedded.ts';

/** A database handle plus how to close it. */
export interface Db {
  readonly db: Kysely<Database>;
  /** `postgres` for a real server, `pglite` for the embedded one. */
  readonly kind: 'postgres' | 'pglite';
  /** The pid of the process owning the embedded database when this handle reaches it through that process. */
  readonly owner?: number;
  close(): Promise<void>;
}

// Return bigint (int8) columns as strings, never as lossy numbers.
pg.types.setTypeParser(20, (v) => v);

/** How {@link connect} opens the embedded database; see {@link openEmbedded}. */
export interface EmbeddedAccess {
  /** `serve`: own it for good and serve it to other processes, or fail. Default `use`. */
  role?: 'serve' | 'use';
  /** What this process runs, named to other processes (`mcp-elevate serve`). */
  command?: string;
  /** Told once when the owning process has kept this one waiting for a few seconds. */
  onWait?: (holder: LockInfo) => void;
}

/**
 * Opens the database: PostgreSQL when `databaseUrl` is given, else embedded PGlite stored under
 * `dataDir/pglite` (or in memory when `dataDir` is `:memory:`). Both speak the same SQL, so the
 * same migrations and repositories serve both. The embedded database has one owning process;
 * others reach it through the owner (see {@link openEmbedded}; {@link Db.owner} names it).
 *
 * @throws {DatabaseInUseError} `role: 'serve'` while another process serves the same folder.
 */
export async function connect(
  opts: { databaseUrl?: string; dataDir: string; poolSize?: number } & EmbeddedAccess,
): Promise<Db> {
  if (opts.databaseUrl) {
    // A bounded connect time: during a database outage requests fail fast (503) instead of hanging.
    const pool = new pg.Pool({
      connectionString: opts.databaseUrl,
      max: opts.poolSize ?? DEFAULTS.dbPoolSize,
      connectionTimeoutMillis: DEFAULTS.dbConnectTimeoutMs,
    });
    // A client losing its connection (database restart) must not crash the process: idle ones
    // report on the pool, checked-out ones on themselves; the query in flight fails either way.
    pool.on('error', () => {});
    pool.on('connect', (client) => client.on('error', () => {}));
    const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
    return { db, kind: 'postgres', close: () => db.destroy() };
  }
  if (opts.dataDir !== ':memory:') {
    return {
      kind: 'pglite',
      ...(await openEmbedded({
        dataDir: opts.dataDir,
        role: opts.role ?? 'use',
        command: opts.command,
        onWait: opts.onWait,
      })),
    };
  }
  const [{ PGlite }, { PGliteDialect }] = await Promise.all([
    import('@electric-sql/pglite'),
    import('kysely-pglite-dialect'),
  ]);
  const pglite = new PGlite();
  await pglite.waitReady;
  const db = new Kysely<Database>({ dialect: new PGliteDialect(pglite) });
  return { db, kind: 'pglite', close: () => db.destroy() };
}
