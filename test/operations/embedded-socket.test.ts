import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { Kysely, PostgresDialect, sql } from 'kysely';
import pg from 'pg';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { gatedDialect } from '../../src/db/embedded.ts';
import { SessionGate } from '../../src/db/gate.ts';
import { serveOnSocket, type SocketServer } from '../../src/db/socket-server.ts';

/**
 * The owner's PGlite is one PostgreSQL session shared by its own queries and by every socket
 * client (other processes). These tests drive it through the real Unix socket with node-postgres,
 * as a CLI command does, while the owner runs its own transactions.
 */
describe('the embedded database served on a Unix socket', () => {
  let dir: string;
  let pglite: PGlite;
  let socket: SocketServer;
  let owner: Kysely<any>;
  const clients: Array<Kysely<any>> = [];
  const viaSocket = (max: number) => {
    const pool = new pg.Pool({
      host: dir,
      port: 5432,
      user: 'postgres',
      database: 'postgres',
      max,
    });
    pool.on('error', () => {});
    const db = new Kysely<any>({ dialect: new PostgresDialect({ pool }) });
    clients.push(db);
    return db;
  };
  const count = async (v: string) =>
    Number(
      (await sql<{ n: string }>`select count(*)::int as n from t where v = ${v}`.execute(owner))
        .rows[0]!.n,
    );

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mcpe-sock-'));
    pglite = new PGlite();
    const gate = new SessionGate();
    socket = await serveOnSocket(pglite, gate, dir, { holdTimeoutMs: 500 });
    owner = new Kysely<any>({ dialect: gatedDialect(pglite, gate) });
    await sql`create table t (id int primary key, v text not null)`.execute(owner);
  });
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.destroy()));
    await socket.close();
    await pglite.close();
    await rm(dir, { recursive: true, force: true });
  });

  it(
    'transactions of several socket connections and of the owner never see or undo each other',
    { timeout: 60_000 },
    async () => {
      const client = viaSocket(3);
      const rolledBack = new Error('rolled back');
      const jobs: Array<Promise<unknown>> = [];
      for (let i = 0; i < 12; i++) {
        jobs.push(
          client.transaction().execute(async (trx) => {
            await sql`insert into t values (${i}, 'client')`.execute(trx);
            // Only its own uncommitted row: no other session's work is inside this transaction.
            const mine = await sql<{
              n: number;
            }>`select count(*)::int as n from t where id = ${i}`.execute(trx);
            expect(mine.rows[0]!.n).toBe(1);
          }),
        );
        jobs.push(
          owner
            .transaction()
            .execute(async (trx) => {
              await sql`insert into t values (${1000 + i}, 'owner')`.execute(trx);
              if (i % 4 === 0) throw rolledBack;
            })
            .catch((err) => {
              if (err !== rolledBack) throw err;
            }),
        );
        jobs.push(
          client
            .transaction()
            .execute(async (trx) => {
              await sql`insert into t values (${2000 + i}, 'client-rollback')`.execute(trx);
              throw rolledBack;
            })
            .catch((err) => {
              if (err !== rolledBack) throw err;
            }),
        );
        // Parameterised statements from both sides: an unnamed statement is never swapped.
        jobs.push(
          sql<{ x: number }>`select ${i}::int as x`
            .execute(client)
            .then((r) => expect(r.rows[0]!.x).toBe(i)),
        );
        jobs.push(
          sql<{ y: string }>`select ${`o${i}`}::text as y`
            .execute(owner)
            .then((r) => expect(r.rows[0]!.y).toBe(`o${i}`)),
        );
      }
      await Promise.all(jobs);
      expect(await count('client')).toBe(12);
      expect(await count('owner')).toBe(9);
      expect(await count('client-rollback')).toBe(0);
      // A failed statement (unique violation) reaches the client as PostgreSQL's error, and the session goes on.
      await expect(sql`insert into t values (1, 'dup')`.execute(client)).rejects.toMatchObject({
        code: '23505',
      });
      expect((await sql<{ ok: number }>`select 1 as ok`.execute(client)).rows).toEqual([{ ok: 1 }]);
    },
  );

  it(
    'a client that stalls inside a transaction is cut off: the owner goes on and the stalled change is rolled back',
    { timeout: 60_000 },
    async () => {
      const raw = new pg.Client({ host: dir, port: 5432, user: 'postgres', database: 'postgres' });
      raw.on('error', () => {});
      await raw.connect();
      await raw.query('begin');
      await raw.query(`insert into t values (1, 'stalled')`);
      // The owner waits for the client's turn to end, which the hold timeout forces.
      await sql`insert into t values (2, 'owner')`.execute(owner);
      expect(await count('stalled')).toBe(0);
      expect(await count('owner')).toBe(1);
      await expect(raw.query('commit')).rejects.toThrow();
      await raw.end().catch(() => {});
    },
  );

  it(
    'a client that disconnects in the middle of a transaction leaves nothing behind',
    { timeout: 60_000 },
    async () => {
      const raw = new pg.Client({ host: dir, port: 5432, user: 'postgres', database: 'postgres' });
      raw.on('error', () => {});
      await raw.connect();
      await raw.query('begin');
      await raw.query(`insert into t values (1, 'gone')`);
      (
        raw as unknown as { connection: { stream: { destroy(): void } } }
      ).connection.stream.destroy();
      await sql`insert into t values (2, 'owner')`.execute(owner);
      expect(await count('gone')).toBe(0);
      expect(await count('owner')).toBe(1);
    },
  );
});
