import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { decodeProtectedHeader } from 'jose';
import * as client from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect } from '../../src/db/connect.ts';
import { runCli } from '../helpers/cli.ts';
import { HttpBrowser, hiddenField } from '../helpers/browser.ts';
import { completeAuthorization } from '../helpers/flows.ts';
import { freePort } from '../helpers/server.ts';

/**
 * ARCHITECTURE.md §2 "One owner for the embedded database", as an operator meets it: `mcp-elevate serve`
 * runs as its own process on a data folder with no DATABASE_URL, and every CLI command runs as
 * another process beside it. Each change must show in the running server at once, be audited, and
 * survive a restart; a second server is refused naming the owner; a killed owner's lock is taken over.
 */

const BIN = fileURLToPath(new URL('../../bin/mcp-elevate.js', import.meta.url));
const DEMO = fileURLToPath(new URL('../../scripts/demo.ts', import.meta.url));
const RESOURCE = 'http://localhost:4000/mcp';
const REDIRECT = 'http://127.0.0.1:9/callback';
const BOT_SECRET = 'bot-secret-0123456789abcdef012345';
const SEC = { email: 'sec@example.com', password: 'security team password' };
const OS_USER = userInfo().username;

interface Served {
  child: ChildProcess;
  output: () => string;
}

/** Starts `mcp-elevate serve` as a process and waits until it answers. */
async function serve(env: Record<string, string>): Promise<Served> {
  const child = spawn(process.execPath, [BIN, 'serve'], {
    env: { PATH: process.env.PATH, LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d) => {
    out += d;
  });
  child.stderr!.on('data', (d) => {
    out += d;
  });
  for (const deadline = Date.now() + 150_000; Date.now() < deadline;) {
    if (child.exitCode !== null) throw new Error(`server exited: ${out}`);
    if (
      await fetch(`http://127.0.0.1:${env.PORT}/healthz`).then(
        (r) => r.ok,
        () => false,
      )
    )
      return { child, output: () => out };
    await new Promise((r) => setTimeout(r, 200));
  }
  child.kill('SIGKILL');
  throw new Error(`server did not start: ${out}`);
}

async function stop(s: Served, signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
  if (s.child.exitCode !== null || s.child.signalCode !== null) return s.child.exitCode;
  const exited = once(s.child, 'exit');
  s.child.kill(signal);
  return (await exited)[0] as number | null;
}

function token(issuer: string, id: string, secret: string): Promise<Response> {
  return fetch(`${issuer}/token`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`,
    },
    body: new URLSearchParams({ grant_type: 'client_credentials', resource: RESOURCE }),
  });
}

/** Signs in through the approvals sign-in form, as a browser would. */
async function approverSignIn(
  issuer: string,
  email: string,
  password: string,
): Promise<{ browser: HttpBrowser; status: number }> {
  const browser = new HttpBrowser();
  const page = await browser.request(`${issuer}/approvals/login?next=/approvals`);
  const res = await browser.request(`${issuer}/approvals/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      csrf: hiddenField(await page.text(), 'csrf'),
      next: '/approvals',
      email,
      password,
    }),
  });
  return { browser, status: res.status };
}

/** Approves every ticket listed on the approver's /approvals page; returns how many. */
async function approveAll(issuer: string, browser: HttpBrowser): Promise<number> {
  const list = await (await browser.request(`${issuer}/approvals`)).text();
  const ids = [
    ...new Set([...list.matchAll(/href="\/approvals\/([0-9a-f-]{36})"/g)].map((m) => m[1]!)),
  ];
  for (const id of ids) {
    const csrf = hiddenField(
      await (await browser.request(`${issuer}/approvals/${id}`)).text(),
      'csrf',
    );
    const res = await browser.request(`${issuer}/approvals/${id}/decision`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ csrf, decision: 'approve', comment: '' }),
    });
    expect(res.status).toBe(303);
  }
  return ids.length;
}

const jwksKids = async (issuer: string) =>
  ((await (await fetch(`${issuer}/jwks`)).json()) as { keys: Array<{ kid: string }> }).keys.map(
    (k) => k.kid,
  );

describe('one owner for the embedded database: the CLI beside a running server', () => {
  let dataDir: string;
  let env: Record<string, string>;
  let issuer: string;
  let server: Served;
  let adminPassword: string;
  let rotatedKid: string;
  const cli = (...args: string[]) => runCli(args, { DATA_DIR: dataDir });

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'mcpe-owner-'));
    const port = await freePort();
    issuer = `http://127.0.0.1:${port}`;
    env = { DATA_DIR: dataDir, PORT: String(port), ISSUER: issuer };
    server = await serve(env);
    adminPassword = (await readFile(join(dataDir, 'initial-admin-password'), 'utf8')).trim();
  }, 180_000);
  afterAll(async () => {
    if (server) await stop(server, 'SIGKILL');
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  it('the server owns the data folder: a lock naming its pid, a socket only its user may open', async () => {
    const lock = JSON.parse(await readFile(join(dataDir, 'pglite.lock'), 'utf8')) as {
      pid: number;
      role: string;
      socket: string;
    };
    expect(lock).toMatchObject({ pid: server.child.pid, role: 'serve', socket: dataDir });
    expect((await stat(join(dataDir, '.s.PGSQL.5432'))).mode & 0o777).toBe(0o600);
  });

  it(
    'a client added with the CLI gets a client_credentials token from the running server at once',
    { timeout: 120_000 },
    async () => {
      // Asked for before it exists: the server must not remember the miss.
      expect((await token(issuer, 'bot', BOT_SECRET)).status).toBe(401);
      const added = await cli(
        'clients',
        'add',
        '--id',
        'bot',
        '--secret',
        BOT_SECRET,
        '--grant-type',
        'client_credentials',
        '--role',
        'viewer',
      );
      expect(added).toMatchObject({ code: 0, stdout: 'created client bot\n', stderr: '' });
      expect((await token(issuer, 'bot', BOT_SECRET)).status).toBe(200);
    },
  );

  it(
    "a security-team member added with the CLI signs in at once and approves the first admin's mcp:admin request",
    { timeout: 240_000 },
    async () => {
      const added = await cli(
        'users',
        'add',
        '--email',
        SEC.email,
        '--password',
        SEC.password,
        '--group',
        'security-team',
      );
      expect(added.code).toBe(0);
      expect(added.stdout).toMatch(/^created user sec@example\.com \(/);
      expect((await cli('users', 'list')).stdout).toContain(`${SEC.email}\t-\t-\tsecurity-team`);
      expect(
        (
          await cli(
            'clients',
            'add',
            '--id',
            'console',
            '--redirect-uri',
            REDIRECT,
            '--grant-type',
            'authorization_code',
          )
        ).code,
      ).toBe(0);
      const sec = await approverSignIn(issuer, SEC.email, SEC.password);
      expect(sec.status).toBe(303);

      // The README's bootstrap: the first admin asks for mcp:admin; the new member approves.
      const config = await client.discovery(new URL(issuer), 'console', undefined, client.None(), {
        execute: [client.allowInsecureRequests],
      });
      const verifier = client.randomPKCECodeVerifier();
      const url = client.buildAuthorizationUrl(config, {
        redirect_uri: REDIRECT,
        resource: `${issuer}/admin`,
        scope: 'mcp:admin',
        code_challenge: await client.calculatePKCECodeChallenge(verifier),
        code_challenge_method: 'S256',
      });
      let approved = 0;
      let approving: Promise<number> | undefined;
      const callback = await completeAuthorization({
        authorizationUrl: url.href,
        redirectUri: REDIRECT,
        email: 'admin@localhost',
        password: adminPassword,
        justification: 'bootstrap',
        onWaiting: () => {
          approving ??= approveAll(issuer, sec.browser).then((n) => (approved = n));
        },
      });
      await approving;
      expect(approved).toBe(1);
      const { access_token } = await client.authorizationCodeGrant(
        config,
        callback,
        { pkceCodeVerifier: verifier },
        { resource: `${issuer}/admin` },
      );

      // Each CLI change is in the audit log, by the operating-system user through its command.
      const res = await fetch(`${issuer}/admin/v1/audit?limit=100`, {
        headers: { authorization: `Bearer ${access_token}` },
      });
      expect(res.status).toBe(200);
      const events = (
        (await res.json()) as {
          items: Array<{
            actor: string;
            clientId: string;
            action: string;
            data: Record<string, unknown>;
          }>;
        }
      ).items;
      const byCli = events.filter((e) => e.clientId?.startsWith('cli:'));
      expect(byCli.map((e) => `${e.actor} ${e.clientId} ${e.action}`).sort()).toEqual([
        `cli:${OS_USER} cli:clients-add client.created`,
        `cli:${OS_USER} cli:clients-add client.created`,
        `cli:${OS_USER} cli:users-add user.created`,
      ]);
      expect(byCli.find((e) => e.action === 'user.created')!.data).toMatchObject({
        email: SEC.email,
        groups: ['security-team'],
      });
      expect(JSON.stringify(events)).not.toContain(BOT_SECRET);
    },
  );

  it(
    'keys rotate beside the server stores and audits the key; the server signs with it once restarted',
    { timeout: 120_000 },
    async () => {
      const before = await jwksKids(issuer);
      const res = await cli('keys', 'rotate');
      expect(res.code).toBe(0);
      const [first, second] = res.stdout.trim().split('\n');
      rotatedKid = /^new signing key (\S+);/.exec(first!)![1]!;
      expect(second).toBe(
        `the server running as process ${server.child.pid} signs with it once restarted`,
      );
      // Documented: a running server keeps the keys it loaded (checked after the restart below).
      expect(await jwksKids(issuer)).toEqual(before);
    },
  );

  it('audit verify and migrate work beside the running server', { timeout: 120_000 }, async () => {
    const verify = await cli('audit', 'verify');
    expect(verify).toMatchObject({ code: 0, stderr: '' });
    expect(verify.stdout).toMatch(/^ok: \d+ events(; checkpoints: .*)?\n$/);
    expect(await cli('migrate')).toMatchObject({ code: 0, stdout: 'schema is up to date\n' });
  });

  it(
    'a second server or the demo on the same folder refuses with one line naming the owner',
    { timeout: 180_000 },
    async () => {
      const second = await runCli(['serve'], { ...env, PORT: String(await freePort()) });
      expect(second.code).not.toBe(0);
      expect(second.stderr.trim().split('\n')).toHaveLength(1);
      expect(second.stderr).toContain(`in use by process ${server.child.pid} (mcp-elevate serve)`);
      const demoEnv = {
        PATH: process.env.PATH,
        LOG_LEVEL: 'silent',
        DATA_DIR: dataDir,
        PORT: String(await freePort()),
        EXAMPLE_PORT: String(await freePort()),
      };
      const demo = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
        const child = spawn(process.execPath, [DEMO], {
          env: demoEnv,
          stdio: ['ignore', 'ignore', 'pipe'],
        });
        let stderr = '';
        child.stderr.on('data', (d) => {
          stderr += d;
        });
        child.on('exit', (code) => resolve({ code, stderr }));
      });
      expect(demo.code).not.toBe(0);
      expect(demo.stderr.trim().split('\n')).toHaveLength(1);
      expect(demo.stderr).toContain(`in use by process ${server.child.pid}`);
      // The owner is untouched.
      expect((await token(issuer, 'bot', BOT_SECRET)).status).toBe(200);
    },
  );

  it(
    'after SIGTERM the lock and socket are gone, and after a restart everything is still there',
    { timeout: 240_000 },
    async () => {
      expect(await stop(server)).toBe(0);
      await expect(stat(join(dataDir, 'pglite.lock'))).rejects.toThrow();
      await expect(stat(join(dataDir, '.s.PGSQL.5432'))).rejects.toThrow();
      server = await serve(env);
      const res = await token(issuer, 'bot', BOT_SECRET);
      expect(res.status).toBe(200);
      const { access_token } = (await res.json()) as { access_token: string };
      expect(decodeProtectedHeader(access_token).kid).toBe(rotatedKid);
      expect(await jwksKids(issuer)).toHaveLength(2);
      expect((await approverSignIn(issuer, SEC.email, SEC.password)).status).toBe(303);
    },
  );

  it(
    "a killed server's lock is taken over; a command waits for another command that holds the folder",
    { timeout: 240_000 },
    async () => {
      const pid = server.child.pid;
      await stop(server, 'SIGKILL');
      expect(JSON.parse(await readFile(join(dataDir, 'pglite.lock'), 'utf8')).pid).toBe(pid);
      // No server: the command owns the folder for its duration and leaves no lock behind.
      const list = await cli('users', 'list');
      expect(list.code).toBe(0);
      expect(list.stdout).toContain(SEC.email);
      await expect(stat(join(dataDir, 'pglite.lock'))).rejects.toThrow();

      // This process holds the folder for a moment, as a command would: the next command waits.
      const held = await connect({ dataDir, command: 'a test holding the folder' });
      const verify = spawn(process.execPath, [BIN, 'audit', 'verify'], {
        env: { PATH: process.env.PATH, DATA_DIR: dataDir },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      verify.stdout.on('data', (d) => {
        stdout += d;
      });
      const told = new Promise<string>((resolve) =>
        verify.stderr.once('data', (d) => resolve(String(d))),
      );
      const exited = once(verify, 'exit');
      expect(await told).toBe(
        `mcp-elevate: waiting for process ${process.pid} (a test holding the folder), which holds the embedded database\n`,
      );
      expect(stdout).toBe('');
      await held.close();
      expect((await exited)[0]).toBe(0);
      expect(stdout).toMatch(/^ok: \d+ events(; checkpoints: .*)?\n$/);

      // Every change the CLI made is still in the chain, with its actor.
      const db = await connect({ dataDir });
      try {
        const rows = await db.db
          .selectFrom('audit_event')
          .select(['actor', 'client_id', 'action'])
          .where('client_id', 'like', 'cli:%')
          .orderBy('seq')
          .execute();
        expect(rows.map((r) => `${r.actor} ${r.client_id} ${r.action}`)).toEqual([
          `cli:${OS_USER} cli:clients-add client.created`,
          `cli:${OS_USER} cli:users-add user.created`,
          `cli:${OS_USER} cli:clients-add client.created`,
          `cli:${OS_USER} cli:keys-rotate signing_key.rotated`,
        ]);
      } finally {
        await db.close();
      }
    },
  );
});
