import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AuditLog, GENESIS, eventHash } from '../../src/audit/audit-log.ts';
import { connect, type Db as DatabaseHandle } from '../../src/db/connect.ts';
import { migrateToLatest } from '../../src/db/migrate.ts';
import { createTestDatabase, databaseKinds, type TestDatabase } from '../helpers/databases.ts';

const waitFor = async (check: () => Promise<boolean>, ms = 10_000) => {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await check()) return true;
    await new Promise((r) => setTimeout(r, 25));
  }
  return false;
};

describe.each(databaseKinds())(
  'audit log: events are written with their change and chained after (%s)',
  (kind) => {
    let database: TestDatabase;
    let dataDir: string;
    let handles: DatabaseHandle[];
    let logs: AuditLog[];

    const open = async () => {
      const h = await connect({ databaseUrl: database.url, dataDir });
      handles.push(h);
      return h;
    };
    const newLog = (h: DatabaseHandle) => {
      const log = new AuditLog(h.db);
      logs.push(log);
      return log;
    };
    const count = async (h: DatabaseHandle, table: 'audit_event' | 'audit_inbox') =>
      Number(
        (
          await h.db
            .selectFrom(table)
            .select((eb) => eb.fn.countAll<string>().as('n'))
            .executeTakeFirstOrThrow()
        ).n,
      );

    beforeEach(async () => {
      database = await createTestDatabase(kind);
      dataDir = await mkdtemp(join(tmpdir(), 'mcpe-audit-'));
      handles = [];
      logs = [];
      await migrateToLatest((await open()).db);
    });
    afterEach(async () => {
      for (const l of logs) await l.close().catch(() => {});
      for (const h of handles) await h.close().catch(() => {});
      await database.drop();
      await rm(dataDir, { recursive: true, force: true });
    });

    it('chains events on its own shortly after they are written, without a flush', async () => {
      const [h] = handles;
      const log = newLog(h!);
      await log.append(
        { action: 'test.one', result: 'success' },
        { action: 'test.two', result: 'success' },
      );
      expect(await waitFor(async () => (await count(h!, 'audit_event')) === 2)).toBe(true);
      expect(await count(h!, 'audit_inbox')).toBe(0);
      expect(await log.verify()).toMatchObject({ ok: true, count: 2 });
    });

    it('drops the event of a transaction that rolls back, and keeps the one that commits', async () => {
      const [h] = handles;
      const log = newLog(h!);
      await expect(
        h!.db.transaction().execute(async (trx) => {
          await log.appendIn(trx, [{ action: 'test.rolled_back', result: 'success' }]);
          throw new Error('the change failed');
        }),
      ).rejects.toThrow('the change failed');
      await h!.db
        .transaction()
        .execute((trx) => log.appendIn(trx, [{ action: 'test.committed', result: 'success' }]));
      await log.flush();
      const actions = (await h!.db.selectFrom('audit_event').select('action').execute()).map(
        (r) => r.action,
      );
      expect(actions).toEqual(['test.committed']);
    });

    it('writes an event in the same statement as its change: a change that fails leaves no event', async () => {
      const [h] = handles;
      const log = newLog(h!);
      const change = (id: string) => (q: Parameters<Parameters<AuditLog['appendWith']>[1]>[0]) =>
        q.insertInto('ciba_poll').values({ auth_req_id: id, polled_at: new Date() }).execute();
      await log.appendWith(
        [{ action: 'test.change', result: 'success', data: { n: 1 } }],
        change('req-1'),
      );
      // The same key again: the insert fails, and takes its event with it.
      await expect(
        log.appendWith(
          [{ action: 'test.change', result: 'success', data: { n: 2 } }],
          change('req-1'),
        ),
      ).rejects.toThrow();
      await log.flush();
      expect(
        (await h!.db.selectFrom('audit_event').select('data').execute()).map((r) => r.data),
      ).toEqual([{ n: 1 }]);
      expect(
        (await h!.db.selectFrom('ciba_poll').select('auth_req_id').execute()).map(
          (r) => r.auth_req_id,
        ),
      ).toEqual(['req-1']);
    });

    // One process owns an embedded database: there is no second instance on PGlite.
    it.skipIf(kind === 'pglite')(
      'keeps one unbroken chain when two instances write and chain at once',
      async () => {
        const a = newLog(handles[0]!);
        const b = newLog(await open());
        const writes = [];
        for (let i = 0; i < 40; i++) {
          const log = i % 2 ? a : b;
          const h = handles[i % 2 ? 0 : 1]!;
          // Half inside transactions (with a business row of sorts), half on their own.
          writes.push(
            i % 4 < 2
              ? h.db
                  .transaction()
                  .execute((trx) =>
                    log.appendIn(trx, [{ action: 'test.tx', result: 'success', data: { i } }]),
                  )
              : log.append(
                  { action: 'test.plain', result: 'success', data: { i } },
                  { action: 'test.plain', result: 'success', data: { i, second: true } },
                ),
          );
          if (i % 5 === 0)
            writes.push(
              a.flush().then(() => 0),
              b.flush().then(() => 0),
            );
        }
        await Promise.all(writes);
        await Promise.all([a.flush(), b.flush()]);
        expect(await count(handles[0]!, 'audit_event')).toBe(60);
        expect(await a.verify()).toMatchObject({ ok: true, count: 60 });
        const seqs = await handles[0]!.db
          .selectFrom('audit_event')
          .select(['seq', 'prev_hash', 'hash'])
          .orderBy('seq')
          .execute();
        for (let i = 1; i < seqs.length; i++) expect(seqs[i]!.prev_hash).toBe(seqs[i - 1]!.hash);
      },
    );

    it('accepts a caller-chosen id once, whether it is still waiting or already chained', async () => {
      const [h] = handles;
      const log = newLog(h!);
      expect(
        await log.append(
          { id: 'evt-1', action: 'test.ingest', result: 'success' },
          { id: 'evt-1', action: 'test.ingest', result: 'success' },
        ),
      ).toBe(1);
      expect(await log.append({ id: 'evt-1', action: 'test.ingest', result: 'success' })).toBe(0);
      await log.flush();
      expect(
        await log.append(
          { id: 'evt-1', action: 'test.ingest', result: 'success' },
          { id: 'evt-2', action: 'test.ingest', result: 'success' },
        ),
      ).toBe(1);
      await log.flush();
      expect(
        (await h!.db.selectFrom('audit_event').select('id').orderBy('seq').execute()).map(
          (r) => r.id,
        ),
      ).toEqual(['evt-1', 'evt-2']);
    });

    it('chains an event that slipped into the inbox twice only once', async () => {
      const [h] = handles;
      const log = newLog(h!);
      await log.append({ id: 'evt-dup', action: 'test.ingest', result: 'success' });
      await log.flush();
      // What an ingest racing a chain pass can leave behind: the id again, in the inbox.
      await h!.db
        .insertInto('audit_inbox')
        .values({
          id: 'evt-dup',
          time: new Date(),
          action: 'test.ingest',
          result: 'success',
          data: '{}',
        })
        .execute();
      await log.append({ id: 'evt-next', action: 'test.ingest', result: 'success' });
      await log.flush();
      expect(
        (await h!.db.selectFrom('audit_event').select('id').orderBy('seq').execute()).map(
          (r) => r.id,
        ),
      ).toEqual(['evt-dup', 'evt-next']);
      expect(await count(h!, 'audit_inbox')).toBe(0);
      expect((await log.verify()).ok).toBe(true);
    });

    it('leaves nothing unchained when the instance that wrote events stops before chaining them', async () => {
      const [h] = handles;
      // Written and committed, never chained by their writer (it went away).
      await h!.db
        .insertInto('audit_inbox')
        .values(
          [1, 2, 3].map((i) => ({
            id: `orphan-${i}`,
            time: new Date(),
            action: 'test.orphan',
            result: 'success',
            data: JSON.stringify({ i }),
          })),
        )
        .execute();
      const survivor = newLog(h!);
      survivor.start();
      expect(await waitFor(async () => (await count(h!, 'audit_event')) === 3)).toBe(true);
      expect(await survivor.verify()).toMatchObject({ ok: true, count: 3 });
    });

    it('events chained before seq was hashed still verify, gaps and all, and new ones follow them densely', async () => {
      const [h] = handles;
      let prev = GENESIS;
      // As an earlier version chained them: numbered by the column's sequence (which can skip).
      for (const seq of [1, 2, 5]) {
        const e = {
          id: `legacy-${seq}`,
          time: new Date('2026-11-01T00:00:00Z'),
          actor: null,
          action: 'test.legacy',
          result: 'success',
          subject: null,
          client_id: null,
          resource: null,
          data: { seq },
        };
        const hash = eventHash(prev, e);
        await h!.db
          .insertInto('audit_event')
          .values({ ...e, seq: String(seq), data: JSON.stringify(e.data), prev_hash: prev, hash })
          .execute();
        prev = hash;
      }
      const log = newLog(h!);
      await log.append(
        { action: 'test.new', result: 'success' },
        { action: 'test.new', result: 'success' },
      );
      await log.flush();
      const seqs = await h!.db.selectFrom('audit_event').select('seq').orderBy('seq').execute();
      expect(seqs.map((r) => Number(r.seq))).toEqual([1, 2, 5, 6, 7]);
      expect(await log.verify()).toMatchObject({ ok: true, count: 5 });
      await sql`update audit_event set data = '{"seq": 9}'::jsonb where seq = 2`.execute(h!.db);
      expect((await log.verify()).brokenAt).toMatchObject({ kind: 'edited', seq: '2' });
    });

    it('redacts secrets before they are stored, and verification still finds a changed row', async () => {
      const [h] = handles;
      const log = newLog(h!);
      await log.append(
        {
          action: 'test.secret',
          result: 'success',
          data: { password: 'hunter2-secret', note: 'ok' },
        },
        { action: 'test.after', result: 'success' },
      );
      await log.flush();
      const stored = JSON.stringify(await h!.db.selectFrom('audit_event').select('data').execute());
      expect(stored).not.toContain('hunter2-secret');
      await sql`update audit_event set result = 'failure' where action = 'test.secret'`.execute(
        h!.db,
      );
      const result = await log.verify();
      expect(result).toMatchObject({
        ok: false,
        count: 0,
        brokenAt: { reason: 'content does not match its hash' },
      });
    });
  },
);
