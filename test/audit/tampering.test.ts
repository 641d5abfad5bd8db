import { appendFile, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { calculateJwkThumbprint, exportJWK, generateKeyPair } from 'jose';
import { sql } from 'kysely';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { signCheckpoint } from '../../src/audit/checkpoints.ts';
import { databaseKinds } from '../helpers/databases.ts';
import { runCli } from '../helpers/cli.ts';
import { startAdminFixture, type AdminFixture } from '../admin/fixture.ts';
import { chainRows, insertForged, rechainFrom, shiftUp, swap } from './tamper.ts';

type Break = { kind: string; seq: string; id?: string; reason: string };
type Verification = {
  ok: boolean;
  count: number;
  checkpoints: { checked: number; refused: Array<{ reason: string }> };
  brokenAt?: Break;
};

/**
 * An attacker with write access to the database tampers with the audit chain in SQL; `audit
 * verify`, as the CLI in a process of its own and as the admin API, names what was done and
 * where. Each test starts from a fresh chain of 12 events (seq 1..12).
 */
describe.each(databaseKinds())(
  'audit verify names the tampering (%s)',
  { timeout: 120_000 },
  (kind) => {
    let f: AdminFixture;
    let token: string;
    let env: Record<string, string | undefined>;
    let dir: string;
    const db = () => f.t.server.db.db;

    beforeAll(async () => {
      // Checkpoints only when a test signs one.
      f = await startAdminFixture(kind, {
        AUDIT_CHECKPOINT_EVERY_EVENTS: '10000000',
        AUDIT_CHECKPOINT_EVERY_SECONDS: '86400',
      });
      token = await f.token();
      env = { DATA_DIR: f.t.dataDir, DATABASE_URL: f.t.db.url };
      dir = join(f.t.dataDir, 'audit-checkpoints');
    }, 240_000);
    afterAll(async () => f?.close());

    beforeEach(async () => {
      await f.t.server.audit.flush();
      await rm(dir, { recursive: true, force: true });
      await sql`delete from audit_checkpoint`.execute(db());
      await sql`delete from audit_event`.execute(db());
      await f.t.server.audit.append(
        ...Array.from({ length: 12 }, (_, i) => ({
          action: 'tamper.test',
          result: 'success',
          data: { i: i + 1 },
        })),
      );
      await f.t.server.audit.flush();
      expect((await chainRows(db())).map((r) => r.seq)).toEqual([
        1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12,
      ]);
    });

    const idAt = async (seq: number) => (await chainRows(db())).find((r) => r.seq === seq)?.id;

    /** `audit verify --json` in a process of its own, and the admin API: both name `expected`. */
    async function expectBoth(expected: Partial<Break>): Promise<Verification> {
      const cli = await runCli(['audit', 'verify', '--json'], env);
      expect(cli.stderr).toBe('');
      expect(cli.code).toBe(1);
      const fromCli = JSON.parse(cli.stdout) as Verification;
      expect(fromCli.ok).toBe(false);
      expect(fromCli.brokenAt).toMatchObject(expected);
      const res = await f.api('GET', '/audit/verify', { token });
      expect(res.status).toBe(200);
      const fromApi = (await res.json()) as Verification;
      expect(fromApi.ok).toBe(false);
      expect(fromApi.brokenAt).toEqual(fromCli.brokenAt);
      return fromCli;
    }

    it('an intact chain with a checkpoint: exit 0, one line of text, and the same in JSON', async () => {
      const signed = await f.t.server.auditCheckpoints.run(true);
      expect(signed).toMatchObject({ n: 1, seq: 12 });
      const text = await runCli(['audit', 'verify'], env);
      expect(text).toMatchObject({ code: 0, stderr: '' });
      expect(text.stdout).toBe('ok: 12 events; checkpoints: 1, the latest n 1 at seq 12\n');
      const json = await runCli(['audit', 'verify', '--json'], env);
      expect(json.code).toBe(0);
      expect(JSON.parse(json.stdout)).toMatchObject({
        ok: true,
        count: 12,
        head: { seq: '12' },
        checkpoints: { checked: 1, latest: { n: 1, seq: '12' }, refused: [] },
      });
    });

    it('edited: a row changed in place is named at its seq', async () => {
      const id = await idAt(5);
      await sql`update audit_event set data = '{"i": 99}'::jsonb where seq = 5`.execute(db());
      const v = await expectBoth({ kind: 'edited', seq: '5', id });
      expect(v.count).toBe(4);
      const text = await runCli(['audit', 'verify'], env);
      expect(text.code).toBe(1);
      expect(text.stderr).toBe(
        `tampered: edited at seq 5 (${id}): content does not match its hash\n`,
      );
    });

    it('deleted: rows removed from the middle are named even after the rest was re-chained', async () => {
      await sql`delete from audit_event where seq in (5, 6)`.execute(db());
      await rechainFrom(db(), 7);
      const v = await expectBoth({ kind: 'deleted', seq: '5' });
      expect(v.brokenAt!.reason).toBe('events 5..6 are missing');
    });

    it('deleted: rows removed and the later ones renumbered to close the gap', async () => {
      await sql`delete from audit_event where seq = 5`.execute(db());
      await sql`update audit_event set seq = seq - 1 where seq > 5`.execute(db());
      await expectBoth({ kind: 'deleted', seq: '5' });
    });

    it('inserted: a forged event pushed in front of the real ones is named at its seq', async () => {
      await shiftUp(db(), 5);
      const forged = await insertForged(db(), 5);
      await expectBoth({ kind: 'inserted', seq: '5', id: forged });
    });

    it('reordered: two events whose seqs were swapped', async () => {
      const id = await idAt(6);
      await swap(db(), 5, 6);
      await expectBoth({ kind: 'reordered', seq: '5', id });
    });

    it('truncated: the last events deleted, behind a signed checkpoint', async () => {
      await f.t.server.auditCheckpoints.run(true);
      await sql`delete from audit_event where seq > 8`.execute(db());
      const v = await expectBoth({ kind: 'truncated', seq: '9' });
      expect(v.brokenAt!.reason).toContain('before checkpoint 1 at seq 12');
      expect(await f.t.server.auditCheckpoints.run(true)).toBeUndefined();
      // Without a checkpoint it cannot be told: the README says so.
      await rm(dir, { recursive: true, force: true });
      await sql`delete from audit_checkpoint`.execute(db());
      expect((await runCli(['audit', 'verify'], env)).code).toBe(0);
    });

    it('rewritten: a row edited and every later one re-hashed contradicts the checkpoint', async () => {
      await f.t.server.auditCheckpoints.run(true);
      await sql`update audit_event set result = 'failure' where seq = 5`.execute(db());
      await rechainFrom(db(), 5);
      const v = await expectBoth({ kind: 'rewritten', seq: '12', id: await idAt(12) });
      expect(v.brokenAt!.reason).toContain('differs from checkpoint 1');
      // The server does not bless the rewrite with a checkpoint of its own.
      await f.t.server.audit.append({ action: 'tamper.test', result: 'success' });
      await f.t.server.audit.flush();
      expect(await f.t.server.auditCheckpoints.run(true)).toBeUndefined();
    });

    it("an auditor's own copy of the keys and checkpoints catches a truncation that also removed the server's", async () => {
      await f.t.server.auditCheckpoints.run(true);
      // The auditor fetched these earlier and kept them.
      const jwksFile = join(f.t.dataDir, 'auditor-jwks.json');
      const copy = join(f.t.dataDir, 'auditor-checkpoints.jws');
      await writeFile(jwksFile, await (await fetch(`${f.t.url}/audit/v1/jwks`)).text());
      const listed = (await (await fetch(`${f.t.url}/audit/v1/checkpoints`)).json()) as {
        checkpoints: Array<{ jws: string; n: number; seq: string }>;
      };
      expect(listed.checkpoints.map((c) => [c.n, c.seq])).toEqual([[1, '12']]);
      await writeFile(copy, listed.checkpoints.map((c) => `${c.jws}\n`).join(''));
      const fromUrl = await runCli(
        ['audit', 'verify', '--checkpoints', `${f.t.url}/audit/v1/checkpoints`, '--jwks', jwksFile],
        env,
      );
      expect(fromUrl).toMatchObject({ code: 0, stderr: '' });
      expect(fromUrl.stdout).toBe('ok: 12 events; checkpoints: 1, the latest n 1 at seq 12\n');
      // The attacker deletes the tail, the server's checkpoints and its audit keys.
      await sql`delete from audit_event where seq > 10`.execute(db());
      await sql`delete from audit_checkpoint`.execute(db());
      await sql`delete from audit_key`.execute(db());
      await rm(dir, { recursive: true, force: true });
      const res = await runCli(
        ['audit', 'verify', '--json', '--checkpoints', copy, '--jwks', jwksFile],
        env,
      );
      expect(res.code).toBe(1);
      expect((JSON.parse(res.stdout) as Verification).brokenAt).toMatchObject({
        kind: 'truncated',
        seq: '11',
      });
      // The server's own list is empty now: verifying against it alone finds nothing.
      const served = await runCli(
        ['audit', 'verify', '--checkpoints', `${f.t.url}/audit/v1/checkpoints`, '--jwks', jwksFile],
        env,
      );
      expect(served).toMatchObject({ code: 0, stdout: 'ok: 10 events\n' });
    });

    it('a checkpoint signed by another key is refused', async () => {
      const genuine = await f.t.server.auditCheckpoints.run(true);
      const { privateKey } = await generateKeyPair('ES256', { extractable: true });
      const jwk = await exportJWK(privateKey);
      const forged = await signCheckpoint(
        { ...jwk, kid: await calculateJwkThumbprint(jwk) },
        { iss: f.t.url, n: 2, seq: 12, hash: genuine!.hash },
      );
      const [file] = await filesOf(dir);
      await appendFile(file!, `${forged}\n`);
      const v = await expectBoth({ kind: 'rewritten', seq: '12' });
      expect(v.brokenAt!.reason).toMatch(/^checkpoint 2 of .* refused: signed by another key/);
      expect(v.checkpoints.refused).toHaveLength(1);
    });

    it('an older checkpoint replayed as the latest is refused', async () => {
      const first = await f.t.server.auditCheckpoints.run(true);
      await f.t.server.audit.append({ action: 'tamper.test', result: 'success' });
      await f.t.server.audit.flush();
      expect(await f.t.server.auditCheckpoints.run(true)).toMatchObject({ n: 2, seq: 13 });
      const [file] = await filesOf(dir);
      await appendFile(file!, `${first!.jws}\n`);
      expect((await readFile(file!, 'utf8')).trim().split('\n')).toHaveLength(3);
      const v = await expectBoth({ kind: 'rewritten', seq: '12' });
      expect(v.brokenAt!.reason).toContain('replayed');
    });
  },
);

async function filesOf(dir: string): Promise<string[]> {
  const { readdir } = await import('node:fs/promises');
  return (await readdir(dir)).map((n) => join(dir, n));
}
