import { promises as fs } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { FileMigrationProvider, Migrator } from 'kysely';
import { describe, expect, it } from 'vitest';
import { connect } from '../../src/db/connect.ts';
import { migrateToLatest } from '../../src/db/migrate.ts';

const folder = fileURLToPath(new URL('../../migrations', import.meta.url));
const BEFORE = '2026-11-24T06-00_audit-inbox';

/** A fresh embedded database migrated up to the schema before the one email spelling. */
async function oldSchema() {
  const db = await connect({ dataDir: ':memory:' });
  const provider = new FileMigrationProvider({ fs, path, migrationFolder: folder });
  const { error } = await new Migrator({ db: db.db, provider }).migrateTo(BEFORE);
  if (error) throw error;
  const add = (id: string, email: string) =>
    db.db
      .insertInto('app_user')
      .values({ id, email, password_hash: 'x', attributes: '{}' })
      .execute();
  return { db, add };
}

// Each test replays every migration on a fresh embedded database: longer than the default.
describe('stored emails are rewritten to the one spelling', { timeout: 120_000 }, () => {
  it('existing accounts are found under every spelling after the upgrade', async () => {
    const { db, add } = await oldSchema();
    try {
      await add('u1', 'Alice@Example.COM');
      await add('u2', 'ｂｏｂ@example.com');
      await migrateToLatest(db.db);
      const rows = await db.db
        .selectFrom('app_user')
        .select(['id', 'email'])
        .orderBy('id')
        .execute();
      expect(rows).toEqual([
        { id: 'u1', email: 'alice@example.com' },
        { id: 'u2', email: 'bob@example.com' },
      ]);
    } finally {
      await db.close();
    }
  });

  it('two accounts that collapse into one spelling stop the upgrade, naming both', async () => {
    const { db, add } = await oldSchema();
    try {
      await add('u1', 'carol@example.com');
      await add('u2', 'ｃａｒｏｌ@example.com');
      const failed = await migrateToLatest(db.db).then(
        () => undefined,
        (err: Error) => err,
      );
      expect(failed?.message).toMatch(/sign-in/);
      expect(String((failed?.cause as Error)?.message)).toMatch(/u1 and u2/);
      // Nothing was half-done: the old rows are as they were.
      const emails = await db.db.selectFrom('app_user').select('email').orderBy('id').execute();
      expect(emails.map((r) => r.email)).toEqual(['carol@example.com', 'ｃａｒｏｌ@example.com']);
    } finally {
      await db.close();
    }
  });
});
