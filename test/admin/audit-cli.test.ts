import { afterEach, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { connect } from '../../src/db/connect.ts';
import { databaseKinds } from '../helpers/databases.ts';
import { runCli } from '../helpers/cli.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

// A server start, its stop and a CLI process each: slow on a busy machine.
describe.each(databaseKinds())('mcp-elevate audit verify (%s)', { timeout: 120_000 }, (kind) => {
  let t: TestServer | undefined;
  afterEach(async () => t?.close());

  /** A stopped server's database with `n` events of our own: the CLI's environment for it, and how many events it holds. */
  async function stoppedServerWithEvents(n: number) {
    t = await startTestServer(kind);
    await t.server.audit.append(
      ...Array.from({ length: n }, (_, i) => ({
        action: 'cli.test',
        result: 'success',
        data: { i },
      })),
    );
    await t.server.audit.flush();
    const { total } = await t.server.db.db
      .selectFrom('audit_event')
      .select((eb) => eb.fn.countAll<string>().as('total'))
      .executeTakeFirstOrThrow();
    await t.stop();
    return { env: { DATA_DIR: t.dataDir, DATABASE_URL: t.db.url }, total: Number(total) };
  }

  /** Changes the result of our third event directly in the database, as an intruder would. */
  async function tamperWithThirdEvent(env: { DATA_DIR: string; DATABASE_URL?: string }) {
    const db = await connect({ databaseUrl: env.DATABASE_URL, dataDir: env.DATA_DIR });
    try {
      const target = await db.db
        .selectFrom('audit_event')
        .select(['seq', 'id'])
        .where('action', '=', 'cli.test')
        .orderBy('seq')
        .offset(2)
        .limit(1)
        .executeTakeFirstOrThrow();
      await sql`update audit_event set result = 'failure' where seq = ${target.seq}`.execute(db.db);
      return target;
    } finally {
      await db.close();
    }
  }

  it('prints ok with the number of events and exits 0 when the chain is intact', async () => {
    const { env, total } = await stoppedServerWithEvents(5);
    expect(total).toBeGreaterThanOrEqual(5);
    const res = await runCli(['audit', 'verify'], env);
    expect(res.stderr).toBe('');
    expect(res.code).toBe(0);
    // The server signed the head when it stopped.
    expect(res.stdout).toBe(
      `ok: ${total} events; checkpoints: 1, the latest n 1 at seq ${total}\n`,
    );
  });

  it('exits 1 naming the seq and id of a row changed in the database', async () => {
    const { env } = await stoppedServerWithEvents(5);
    const target = await tamperWithThirdEvent(env);
    const res = await runCli(['audit', 'verify'], env);
    expect(res.code).toBe(1);
    expect(res.stdout).toBe('');
    expect(res.stderr).toBe(
      `tampered: edited at seq ${String(target.seq)} (${target.id}): content does not match its hash\n`,
    );
  });

  it('documents itself and refuses unknown options with exit 2', async () => {
    const help = await runCli(['audit', 'verify', '--help'], {});
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^Usage: mcp-elevate audit verify/);
    expect((await runCli(['--help'], {})).stdout).toContain('audit verify');
    const bad = await runCli(['audit', 'verify', '--fast'], { DATA_DIR: ':memory:' });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^mcp-elevate: .*--fast/);
  });
});
