import { userInfo } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { databaseKinds } from '../helpers/databases.ts';
import { runCli } from '../helpers/cli.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

const OS_USER = userInfo().username;
const SECRET = 'cli-client-secret-123456';

/**
 * Every change the command line makes is an audit event by the operating-system user
 * (`cli:<user>`) through its command (`cli:users-add` …), found in the chain beside a running
 * server, with what changed and no secret.
 */
describe.each(databaseKinds())(
  'command-line changes are audited (%s)',
  { timeout: 120_000 },
  (kind) => {
    let t: TestServer;
    let env: Record<string, string | undefined>;

    beforeAll(async () => {
      t = await startTestServer(kind);
      env = { DATA_DIR: t.dataDir, DATABASE_URL: t.db.url };
    }, 240_000);
    afterAll(async () => t?.close());

    async function eventOf(command: string, action: string) {
      await t.server.audit.flush();
      const rows = await t.server.db.db
        .selectFrom('audit_event')
        .selectAll()
        .where('client_id', '=', `cli:${command}`)
        .where('action', '=', action)
        .orderBy('seq')
        .execute();
      expect(rows).toHaveLength(1);
      expect(rows[0]!.actor).toBe(`cli:${OS_USER}`);
      expect(JSON.stringify(rows[0])).not.toContain(SECRET);
      expect(JSON.stringify(rows[0])).not.toContain('a long cli password');
      return rows[0]!;
    }

    it('users add with roles and approver groups', async () => {
      const res = await runCli(
        [
          'users',
          'add',
          '--email',
          'ops@example.com',
          '--password',
          'a long cli password',
          '--role',
          'developer',
          '--role',
          'viewer',
          '--group',
          'security-team',
        ],
        env,
      );
      expect(res).toMatchObject({ code: 0, stderr: '' });
      const id = /\(([^)]+)\)/.exec(res.stdout)![1];
      const e = await eventOf('users-add', 'user.created');
      expect(e.subject).toBe(id);
      expect(e.data).toMatchObject({
        email: 'ops@example.com',
        roles: ['developer', 'viewer'],
        groups: ['security-team'],
      });
    });

    it('clients add', async () => {
      const res = await runCli(
        ['clients', 'add', '--id', 'cli-bot', '--secret', SECRET, '--role', 'viewer'],
        env,
      );
      expect(res).toMatchObject({ code: 0, stdout: 'created client cli-bot\n' });
      const e = await eventOf('clients-add', 'client.created');
      expect(e.data).toMatchObject({
        client: 'cli-bot',
        grantTypes: ['client_credentials'],
        roles: ['viewer'],
      });
    });

    it('keys rotate', async () => {
      const res = await runCli(['keys', 'rotate'], env);
      expect(res.code).toBe(0);
      const kid = /^new signing key (\S+);/.exec(res.stdout)![1];
      const e = await eventOf('keys-rotate', 'signing_key.rotated');
      expect(e.data).toMatchObject({ kid, publishedForSeconds: 86_400 });
    });

    it('keys rotate --audit: a new checkpoint key that signs the next checkpoint, the old one still published', async () => {
      await t.server.auditCheckpoints.run(true);
      const before = (await (await fetch(`${t.url}/audit/v1/jwks`)).json()) as {
        keys: Array<{ kid: string; d?: string }>;
      };
      expect(before.keys).toHaveLength(1);
      const res = await runCli(['keys', 'rotate', '--audit'], env);
      expect(res.code).toBe(0);
      const kid = /^new audit key (\S+);/.exec(res.stdout)![1];
      const e = await eventOf('keys-rotate', 'audit_key.rotated');
      expect(e.data).toEqual({ kid, retired: [before.keys[0]!.kid] });
      const after = (await (await fetch(`${t.url}/audit/v1/jwks`)).json()) as typeof before;
      expect(after.keys.map((k) => k.kid)).toEqual([kid, before.keys[0]!.kid]);
      expect(after.keys.every((k) => k.d === undefined)).toBe(true);
      // The running server signs with the new key from its next checkpoint on.
      expect(await t.server.auditCheckpoints.run(true)).toMatchObject({ kid });
      expect((await runCli(['audit', 'verify'], env)).code).toBe(0);
    });
  },
);
