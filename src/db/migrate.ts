import { promises as fs } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Kysely } from 'kysely';
import { FileMigrationProvider, Migrator } from 'kysely';

const MIGRATIONS = fileURLToPath(new URL('../../migrations', import.meta.url));

/** Thrown when a migration fails; names the migration, never echoes SQL parameters. */
export class MigrationError extends Error {
  readonly code = 'ERR_MIGRATION';
}

/**
 * Brings the schema up to date. Kysely's migrator takes a row lock on its lock table inside a
 * transaction, so two instances starting at once run each migration exactly once.
 */
export async function migrateToLatest(db: Kysely<any>): Promise<string[]> {
  const migrator = new Migrator({
    db,
    provider: new FileMigrationProvider({ fs, path, migrationFolder: MIGRATIONS }),
  });
  const { error, results = [] } = await migrator.migrateToLatest();
  if (error) {
    const failed = results.find((r) => r.status === 'Error');
    throw new MigrationError(`migration ${failed?.migrationName ?? '(unknown)'} failed`, {
      cause: error,
    });
  }
  return results.filter((r) => r.status === 'Success').map((r) => r.migrationName);
}

/** Whether every known migration has been applied (for `/readyz`). */
export async function migrationsCurrent(db: Kysely<any>): Promise<boolean> {
  const migrator = new Migrator({
    db,
    provider: new FileMigrationProvider({ fs, path, migrationFolder: MIGRATIONS }),
  });
  const all = await migrator.getMigrations();
  return all.every((m) => m.executedAt !== undefined);
}
