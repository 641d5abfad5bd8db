import { randomBytes } from 'node:crypto';
import pg from 'pg';

/** A database a test server runs on: embedded PGlite, or a fresh database on TEST_DATABASE_URL. */
export interface TestDatabase {
  kind: 'pglite' | 'postgres';
  /** DATABASE_URL for postgres; undefined for PGlite. */
  url?: string;
  drop(): Promise<void>;
}

/** The database kinds every database test runs on: PGlite always, PostgreSQL when TEST_DATABASE_URL is set. */
export function databaseKinds(): Array<'pglite' | 'postgres'> {
  return process.env.TEST_DATABASE_URL ? ['pglite', 'postgres'] : ['pglite'];
}

/** Creates an empty database of that kind, owned by the calling test. */
export async function createTestDatabase(kind: 'pglite' | 'postgres'): Promise<TestDatabase> {
  if (kind === 'pglite') return { kind, drop: async () => {} };
  const base = process.env.TEST_DATABASE_URL!;
  const name = `mcpe_test_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: base });
  await admin.connect();
  await admin.query(`create database ${name}`);
  await admin.end();
  const url = new URL(base);
  url.pathname = `/${name}`;
  return {
    kind,
    url: url.toString(),
    async drop() {
      const c = new pg.Client({ connectionString: base });
      await c.connect();
      await c.query(`drop database if exists ${name} with (force)`);
      await c.end();
    },
  };
}
