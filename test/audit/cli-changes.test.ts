import { userInfo } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeJwt } from 'jose';
import { RESOURCE } from '../helpers/agents.ts';
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

    /** The `roles` claim of a client_credentials token `id` gets from the running server now. */
    async function tokenRoles(id: string): Promise<unknown> {
      const res = await fetch(`${t.url}/token`, {
        method: 'POST',
        headers: { authorization: `Basic ${Buffer.from(`${id}:${SECRET}`).toString('base64')}` },
        body: new URLSearchParams({ grant_type: 'client_credentials', resource: RESOURCE }),
      });
      expect(res.status).toBe(200);
      return decodeJwt(((await res.json()) as { access_token: string }).access_token).roles;
    }

    it('clients roles: replaced, audited, in the next tokens of the running server; add refuses an existing id', async () => {
      const add = ['clients', 'add', '--id', 'roles-bot', '--secret', SECRET];
      expect(await runCli([...add, '--role', 'viewer'], env)).toMatchObject({ code: 0 });
      expect(await tokenRoles('roles-bot')).toEqual(['viewer']);

      // Adding again changes nothing and says which command does.
      const again = await runCli([...add, '--role', 'developer'], env);
      expect(again).toMatchObject({ code: 1, stdout: '' });
      expect(again.stderr).toBe(
        "mcp-elevate: a client with id roles-bot already exists; change its roles with 'mcp-elevate clients roles --id roles-bot --role R'\n",
      );
      expect(again.stderr).not.toContain(SECRET);

      const set = await runCli(
        ['clients', 'roles', '--id', 'roles-bot', '--role', 'developer', '--role', 'developer'],
        env,
      );
      expect(set).toMatchObject({ code: 0, stdout: 'client roles-bot: roles developer\n' });
      const e = await eventOf('clients-roles', 'client.roles_set');
      expect(e.data).toMatchObject({
        client: 'roles-bot',
        before: ['viewer'],
        after: ['developer'],
      });
      // Another process changed the database: the server's role cache lets it show within 5 s.
      await expect
        .poll(() => tokenRoles('roles-bot'), { timeout: 10_000, interval: 500 })
        .toEqual(['developer', 'viewer']);
      const listed = await runCli(['clients', 'list'], env);
      expect(listed.code).toBe(0);
      expect(listed.stdout.split('\n')).toContain('roles-bot\t-\tclient_credentials\tdeveloper');
      expect(listed.stdout).not.toContain(SECRET);

      // Refusals change nothing: an unknown client or role, a malformed name, no --id.
      for (const [args, code, stderr] of [
        [['--id', 'nobody', '--role', 'viewer'], 1, 'mcp-elevate: client nobody not found\n'],
        [
          ['--id', 'roles-bot', '--role', 'no-such-role'],
          1,
          'mcp-elevate: unknown role: no-such-role\n',
        ],
        [['--id', 'roles-bot', '--role', 'Bad Role'], 2, /^mcp-elevate: --role: /],
        [['--role', 'viewer'], 2, 'mcp-elevate: --id is required\n'],
      ] as const) {
        const res = await runCli(['clients', 'roles', ...args], env);
        expect(res.code, args.join(' ')).toBe(code);
        if (typeof stderr === 'string') expect(res.stderr).toBe(stderr);
        else expect(res.stderr).toMatch(stderr);
      }
      expect(await tokenRoles('roles-bot')).toEqual(['developer', 'viewer']);

      // No --role takes every role away.
      const none = await runCli(['clients', 'roles', '--id', 'roles-bot'], env);
      expect(none).toMatchObject({ code: 0, stdout: 'client roles-bot: roles (none)\n' });
      await expect
        .poll(() => tokenRoles('roles-bot'), { timeout: 10_000, interval: 500 })
        .toEqual([]);
    });

    it('users roles: found by any spelling of the email, replaced and audited', async () => {
      const add = [
        'users',
        'add',
        '--email',
        'Roles.User@Example.com',
        '--password',
        'a long cli password',
      ];
      const created = await runCli([...add, '--role', 'viewer'], env);
      expect(created.code).toBe(0);
      const id = /\(([^)]+)\)/.exec(created.stdout)![1];
      const again = await runCli(add, env);
      expect(again.code).toBe(1);
      expect(again.stderr).toContain(
        "already exists; change its roles with 'mcp-elevate users roles --email Roles.User@Example.com --role R'",
      );

      const set = await runCli(
        ['users', 'roles', '--email', 'ROLES.USER@example.COM', '--role', 'developer'],
        env,
      );
      expect(set).toMatchObject({
        code: 0,
        stdout: 'user roles.user@example.com: roles developer\n',
      });
      const e = await eventOf('users-roles', 'user.roles_set');
      expect(e.subject).toBe(id);
      expect(e.data).toMatchObject({ before: ['viewer'], after: ['developer'] });
      expect((await t.server.users.findById(id))?.roles).toEqual(['developer']);

      const unknown = await runCli(['users', 'roles', '--email', 'nobody@example.com'], env);
      expect(unknown).toMatchObject({
        code: 1,
        stderr: 'mcp-elevate: user nobody@example.com not found\n',
      });
      const badRole = await runCli(
        ['users', 'roles', '--email', 'roles.user@example.com', '--role', 'nope'],
        env,
      );
      expect(badRole).toMatchObject({ code: 1, stderr: 'mcp-elevate: unknown role: nope\n' });
      expect((await t.server.users.findById(id))?.roles).toEqual(['developer']);
    });

    it('a command group alone names its commands; with --help it prints their usage', async () => {
      const bare = await runCli(['clients'], env);
      expect(bare).toMatchObject({
        code: 2,
        stdout: '',
        stderr:
          'mcp-elevate: a command is needed: clients add|list|roles (see mcp-elevate clients --help)\n',
      });
      const help = await runCli(['users', '--help'], env);
      expect(help.code).toBe(0);
      expect(help.stdout.trim().split('\n')).toEqual([
        expect.stringMatching(/^Usage: mcp-elevate users add /),
        'Usage: mcp-elevate users list',
        'Usage: mcp-elevate users roles --email E [--role R]...',
      ]);
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
