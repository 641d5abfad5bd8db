import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { SignJWT, decodeJwt, decodeProtectedHeader, exportJWK, generateKeyPair } from 'jose';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { completeAuthorization } from '../helpers/flows.ts';
import { freePort } from '../helpers/server.ts';
import {
  REPO,
  npxMcpElevate,
  startServeProcess,
  type ServeProcess,
} from '../helpers/serve-process.ts';
import { pkce } from './oauth-client.ts';

const CHROMIUM = '/usr/bin/chromium';
const skip = !existsSync(CHROMIUM) && !process.env.REQUIRE_BROWSER;
const REDIRECT = 'http://127.0.0.1:9/callback';
const SEC = { email: 'sec@example.com', password: 'security team password' };
const DEV = { email: 'dev@example.com', password: 'developer password' };
const BOT = { id: 'deploy-bot', secret: 'deploy-bot-secret-0123456789abcdef' };

/** A command of the README's "Command line" block: its words and the options it shows. */
interface ReadmeCommand {
  words: string[];
  options: string[];
}

/** The `--options` in a piece of usage text, sorted and once each. */
const optionsIn = (text: string) => [...new Set(text.match(/--[a-z][a-z-]*/g) ?? [])].sort();

/** The README's "Command line" block as a user reads it (an indented line continues a command). */
async function readmeCommands(): Promise<ReadmeCommand[]> {
  const readme = await readFile(join(REPO, 'README.md'), 'utf8');
  const block = /## Command line\n\n```\n([\s\S]*?)```/.exec(readme)![1]!;
  const commands: ReadmeCommand[] = [];
  for (const line of block.split('\n').filter(Boolean)) {
    // `mcp-elevate <command> [options]`, and after two spaces or more what it does.
    const usage = line.trim().split(/ {2,}/)[0]!;
    if (/^\s/.test(line)) {
      const last = commands.at(-1)!;
      last.options = optionsIn(`${last.options.join(' ')} ${usage}`);
      continue;
    }
    const tokens = usage.split(' ').slice(1);
    const end = tokens.findIndex((t) => /^[-[]/.test(t));
    commands.push({ words: end === -1 ? tokens : tokens.slice(0, end), options: optionsIn(usage) });
  }
  return commands;
}

async function clientCredentials(
  issuer: string,
  body: Record<string, string>,
  headers: Record<string, string> = {},
) {
  return fetch(`${issuer}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    // For the MCP server of the shipped scopes.json.
    body: new URLSearchParams({
      grant_type: 'client_credentials',
      resource: 'http://localhost:4000/mcp',
      ...body,
    }),
  });
}

const basic = (id: string, secret: string) =>
  `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;

/**
 * The README, followed word for word by a user: `npm start` on the embedded default in one
 * terminal, every `npx mcp-elevate …` command of "Command line" in a second one while it runs,
 * the bootstrap of the first admin (a second security-team member approving in a browser), then a
 * restart that keeps everything.
 */
describe.skipIf(skip)('first contact: the README followed as separate processes', () => {
  let server: ServeProcess;
  let browser: Browser;
  let adminToken = '';
  let rotatedKid = '';
  let auditCount = 0;
  const cli = (...args: string[]) => npxMcpElevate(args, server.env);

  beforeAll(async () => {
    server = await startServeProcess();
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    });
  }, 300_000);
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it('npm start creates admin@localhost, prints its one-time password once and saves it 0600, never in a log line', async () => {
    const password = await server.adminPassword();
    expect(password.length).toBeGreaterThanOrEqual(20);
    expect((await stat(join(server.dataDir, 'initial-admin-password'))).mode & 0o777).toBe(0o600);
    const output = server.output();
    expect(output.split(password).length - 1).toBe(1);
    expect(output).toContain('Initial admin account: admin@localhost');
    const logLines = output.split('\n').filter((line) => line.startsWith('{'));
    expect(logLines.length).toBeGreaterThan(0);
    expect(logLines.filter((line) => line.includes(password))).toEqual([]);
    for (const path of [
      '/.well-known/oauth-authorization-server',
      '/.well-known/openid-configuration',
    ]) {
      const res = await fetch(`${server.url}${path}`);
      expect(res.status).toBe(200);
      expect(((await res.json()) as { issuer: string }).issuer).toBe(server.url);
    }
  });

  it('the home page at the issuer links to everything, and every link it shows answers', async () => {
    const page = await browser.newPage();
    const res = await page.goto(server.url);
    expect(res?.status()).toBe(200);
    const hrefs = await page
      .locator('a[href]')
      .evaluateAll((as) => as.map((a) => a.getAttribute('href') ?? ''));
    const links = hrefs.map((href) => new URL(href, server.url).href);
    await page.close();
    const paths = links.filter((l) => l.startsWith(server.url)).map((l) => new URL(l).pathname);
    expect(paths).toEqual(
      expect.arrayContaining([
        '/.well-known/oauth-authorization-server',
        '/.well-known/openid-configuration',
        '/login',
        '/account',
        '/approvals',
      ]),
    );
    for (const link of links.filter((l) => l.startsWith(server.url))) {
      expect((await fetch(link)).status, link).toBe(200);
    }
  });

  it(
    'every command of the README has --help printing the usage the README shows',
    { timeout: 600_000 },
    async () => {
      const commands = await readmeCommands();
      expect(commands.map((c) => c.words.join(' '))).toEqual(
        expect.arrayContaining([
          'serve',
          'migrate',
          'users add',
          'users list',
          'clients add',
          'keys rotate',
          'audit verify',
          'example-mcp-server',
        ]),
      );
      const helps = await Promise.all(commands.map((c) => cli(...c.words, '--help')));
      commands.forEach((command, i) => {
        const name = command.words.join(' ');
        expect(helps[i]!.code, name).toBe(0);
        const usage = helps[i]!.stdout.split('\n\n')[0]!;
        expect(usage, name).toMatch(new RegExp(`^Usage: mcp-elevate ${name}\\b`));
        // The same options in the README as in the command's own usage.
        expect(command.options, name).toEqual(optionsIn(usage));
      });
      const bad = await cli('users', 'add', '--email', 'someone@example.com');
      expect(bad.code).not.toBe(0);
      expect(bad.stderr.trim().split('\n')).toEqual([expect.stringContaining('--password')]);
    },
  );

  it('users add and users list work while the server runs', { timeout: 600_000 }, async () => {
    const sec = await cli(
      'users',
      'add',
      '--email',
      SEC.email,
      '--password',
      SEC.password,
      '--group',
      'security-team',
    );
    expect(sec).toMatchObject({ code: 0, stderr: '' });
    expect(sec.stdout).toMatch(/^created user sec@example\.com \(/);
    const dev = await cli(
      'users',
      'add',
      '--email',
      DEV.email,
      '--password',
      DEV.password,
      '--name',
      'Dana Developer',
      '--role',
      'developer',
    );
    expect(dev.code).toBe(0);
    const list = await cli('users', 'list');
    expect(list.code).toBe(0);
    const lines = list.stdout.trim().split('\n');
    expect(lines).toContain(`${SEC.email}\t-\t-\tsecurity-team`);
    expect(lines).toContain(`${DEV.email}\tDana Developer\tdeveloper\t-`);
    expect(lines).toContain('admin@localhost\tAdministrator\tadmin\tsecurity-team');
  });

  it(
    'clients add works while the server runs: an agent with a secret, and a public client for sign-in',
    { timeout: 600_000 },
    async () => {
      const bot = await cli(
        'clients',
        'add',
        '--id',
        BOT.id,
        '--secret',
        BOT.secret,
        '--grant-type',
        'client_credentials',
        '--role',
        'viewer',
      );
      expect(bot).toMatchObject({ code: 0, stdout: `created client ${BOT.id}\n`, stderr: '' });
      expect(
        (await clientCredentials(server.url, {}, { authorization: basic(BOT.id, BOT.secret) }))
          .status,
      ).toBe(200);
      expect(
        (
          await clientCredentials(
            server.url,
            {},
            { authorization: basic(BOT.id, 'not the secret') },
          )
        ).status,
      ).toBe(401);
      const console = await cli('clients', 'add', '--id', 'console', '--redirect-uri', REDIRECT);
      expect(console).toMatchObject({ code: 0, stdout: 'created client console\n', stderr: '' });
      // The token requests left no warning in the server's output: oidc-provider read each body
      // from the stream itself (a resource parameter in another spelling is rewritten there).
      const respelled = await clientCredentials(
        server.url,
        { resource: 'HTTP://LOCALHOST:4000/mcp' },
        { authorization: basic(BOT.id, BOT.secret) },
      );
      expect(respelled.status).toBe(200);
      const { access_token } = (await respelled.json()) as { access_token: string };
      expect(decodeJwt(access_token).aud).toBe('http://localhost:4000/mcp');
      expect(server.output()).not.toMatch(/WARNING|already parsed/);
    },
  );

  it(
    'clients add --auth-method registers the one method the token endpoint then accepts',
    { timeout: 600_000 },
    async () => {
      const post = await cli(
        'clients',
        'add',
        '--id',
        'post-bot',
        '--secret',
        BOT.secret,
        '--auth-method',
        'client_secret_post',
        '--grant-type',
        'client_credentials',
      );
      expect(post).toMatchObject({ code: 0, stdout: 'created client post-bot\n', stderr: '' });
      expect(
        (await clientCredentials(server.url, { client_id: 'post-bot', client_secret: BOT.secret }))
          .status,
      ).toBe(200);
      // A secret client may send its secret in either place (README), but never leave it out.
      expect(
        (await clientCredentials(server.url, {}, { authorization: basic('post-bot', BOT.secret) }))
          .status,
      ).toBe(200);
      expect((await clientCredentials(server.url, { client_id: 'post-bot' })).status).toBe(401);

      const generated = await cli(
        'clients',
        'add',
        '--id',
        'basic-bot',
        '--auth-method',
        'client_secret_basic',
        '--grant-type',
        'client_credentials',
      );
      expect(generated.code).toBe(0);
      const secret = /^client secret: (\S+)$/m.exec(generated.stdout)![1]!;
      expect(
        (await clientCredentials(server.url, {}, { authorization: basic('basic-bot', secret) }))
          .status,
      ).toBe(200);
      expect(
        (await clientCredentials(server.url, {}, { authorization: basic('basic-bot', BOT.secret) }))
          .status,
      ).toBe(401);

      // private_key_jwt: the client signs an assertion (RFC 7523) with the key whose public half
      // it registered.
      const { publicKey, privateKey } = await generateKeyPair('ES256', { extractable: true });
      const jwk = { ...(await exportJWK(publicKey)), kid: 'bot-key-1', alg: 'ES256', use: 'sig' };
      const jwt = await cli(
        'clients',
        'add',
        '--id',
        'jwt-bot',
        '--auth-method',
        'private_key_jwt',
        '--jwks',
        JSON.stringify({ keys: [jwk] }),
        '--grant-type',
        'client_credentials',
      );
      expect(jwt).toMatchObject({ code: 0, stdout: 'created client jwt-bot\n', stderr: '' });
      const assertion = await new SignJWT({})
        .setProtectedHeader({ alg: 'ES256', kid: 'bot-key-1' })
        .setIssuer('jwt-bot')
        .setSubject('jwt-bot')
        .setAudience(server.url)
        .setJti(crypto.randomUUID())
        .setIssuedAt()
        .setExpirationTime('1m')
        .sign(privateKey);
      expect(
        (
          await clientCredentials(server.url, {
            client_id: 'jwt-bot',
            client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
            client_assertion: assertion,
          })
        ).status,
      ).toBe(200);

      const none = await cli(
        'clients',
        'add',
        '--id',
        'public-app',
        '--auth-method',
        'none',
        '--redirect-uri',
        REDIRECT,
      );
      expect(none).toMatchObject({ code: 0, stdout: 'created client public-app\n', stderr: '' });
      // `none` never with client_credentials, and an unknown method: one line each, nothing added.
      const publicAgent = await cli(
        'clients',
        'add',
        '--id',
        'odd-agent',
        '--auth-method',
        'none',
        '--grant-type',
        'client_credentials',
      );
      expect(publicAgent.code).not.toBe(0);
      expect(publicAgent.stderr.trim().split('\n')).toHaveLength(1);
      const unknown = await cli(
        'clients',
        'add',
        '--id',
        'odd',
        '--auth-method',
        'client_secret_jwt_typo',
      );
      expect(unknown.code).not.toBe(0);
      expect(unknown.stderr.trim().split('\n')).toEqual([expect.stringContaining('--auth-method')]);
    },
  );

  it('migrate and audit verify answer while the server runs', { timeout: 600_000 }, async () => {
    expect(await cli('migrate')).toMatchObject({
      code: 0,
      stdout: 'schema is up to date\n',
      stderr: '',
    });
    const verify = await cli('audit', 'verify');
    expect(verify).toMatchObject({ code: 0, stderr: '' });
    auditCount = Number(/^ok: (\d+) events(?:; checkpoints: .*)?$/.exec(verify.stdout.trim())![1]);
    // The CLI's own changes are audited: two users and two clients at least.
    expect(auditCount).toBeGreaterThanOrEqual(4);
  });

  it(
    'bootstraps the first admin: the second security-team member approves mcp:admin in a browser at /approvals',
    { timeout: 600_000 },
    async () => {
      // The approver signs in at /approvals in their browser first.
      const page = await browser.newPage();
      await page.goto(`${server.url}/approvals`);
      expect(new URL(page.url()).pathname).toBe('/login');
      await page.locator('#email').fill(SEC.email);
      await page.locator('#password').fill(SEC.password);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.waitForURL(`${server.url}/approvals`);

      // The first admin asks for mcp:admin at resource <ISSUER>/admin, signs in and justifies it.
      const { verifier, challenge } = pkce();
      const authorize = new URL(`${server.url}/auth`);
      authorize.search = new URLSearchParams({
        client_id: 'console',
        response_type: 'code',
        redirect_uri: REDIRECT,
        scope: 'mcp:admin',
        resource: `${server.url}/admin`,
        code_challenge: challenge,
        code_challenge_method: 'S256',
        state: 'bootstrap',
      }).toString();
      let approving: Promise<void> | undefined;
      const callback = await completeAuthorization({
        authorizationUrl: authorize.href,
        redirectUri: REDIRECT,
        email: 'admin@localhost',
        password: await server.adminPassword(),
        justification: 'First admin: set up roles',
        onWaiting: () => {
          approving ??= (async () => {
            await page.goto(`${server.url}/approvals`);
            await page.getByRole('link', { name: /Administrator|admin@localhost/ }).click();
            expect(await page.locator('#scopes').innerText()).toContain('mcp:admin');
            await page.getByRole('button', { name: 'Approve' }).click();
            await page.waitForURL(/done=approve$/);
          })();
        },
      });
      await approving;
      await page.close();
      expect(callback.searchParams.get('error')).toBeNull();

      const res = await fetch(`${server.url}/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          grant_type: 'authorization_code',
          client_id: 'console',
          code: callback.searchParams.get('code')!,
          redirect_uri: REDIRECT,
          code_verifier: verifier,
          resource: `${server.url}/admin`,
        }),
      });
      expect(res.status).toBe(200);
      adminToken = ((await res.json()) as { access_token: string }).access_token;
      expect(String(decodeJwt(adminToken).scope).split(' ')).toContain('mcp:admin');

      const users = await fetch(`${server.url}/admin/v1/users?limit=100`, {
        headers: { authorization: `Bearer ${adminToken}` },
      });
      expect(users.status).toBe(200);
      const emails = ((await users.json()) as { items: Array<{ email: string }> }).items.map(
        (u) => u.email,
      );
      expect(emails).toEqual(expect.arrayContaining(['admin@localhost', SEC.email, DEV.email]));
    },
  );

  it(
    'keys rotate beside the server stores a new key that the server signs with after a restart',
    { timeout: 600_000 },
    async () => {
      const rotated = await cli('keys', 'rotate');
      expect(rotated.code).toBe(0);
      rotatedKid = /^new signing key (\S+);/.exec(rotated.stdout)![1]!;
      expect(rotated.stdout).toContain('signs with it once restarted');
    },
  );

  it(
    'a second npm start on the same data folder is refused with one line naming the running server',
    { timeout: 600_000 },
    async () => {
      const owner = JSON.parse(await readFile(join(server.dataDir, 'pglite.lock'), 'utf8')) as {
        pid: number;
      };
      const second = spawn('npm', ['start', '--silent'], {
        cwd: REPO,
        env: { ...server.env, PORT: String(await freePort()) },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let output = '';
      second.stdout.on('data', (d: Buffer) => (output += d.toString()));
      second.stderr.on('data', (d: Buffer) => (output += d.toString()));
      const [code] = (await once(second, 'exit')) as [number | null];
      expect(code).not.toBe(0);
      const lines = output
        .trim()
        .split('\n')
        .filter((line) => !line.startsWith('npm '));
      expect(lines).toEqual([expect.stringContaining(`in use by process ${owner.pid}`)]);
      // The running server is untouched.
      expect((await fetch(`${server.url}/readyz`)).status).toBe(200);
    },
  );

  it(
    'a restart (SIGTERM, npm start) keeps users, clients, the admin token and the audit chain',
    { timeout: 600_000 },
    async () => {
      expect(adminToken).not.toBe('');
      await server.stop();
      // A graceful stop, which removes the embedded database's lock.
      expect(server.output()).toMatch(/"signal":"SIGTERM","msg":"shutting down"/);
      expect(existsSync(join(server.dataDir, 'pglite.lock'))).toBe(false);
      server = await server.restart();
      // No second initial admin.
      expect(server.output()).not.toContain('Initial admin account');

      // The admin token signed before the restart still verifies: its key is still published.
      const again = await fetch(`${server.url}/admin/v1/users?limit=100`, {
        headers: { authorization: `Bearer ${adminToken}` },
      });
      expect(again.status).toBe(200);
      const metadata = (await (
        await fetch(`${server.url}/.well-known/openid-configuration`)
      ).json()) as { jwks_uri: string };
      const jwks = (await (await fetch(metadata.jwks_uri)).json()) as {
        keys: Array<{ kid: string }>;
      };
      const kids = jwks.keys.map((k) => k.kid);
      expect(kids).toContain(decodeProtectedHeader(adminToken).kid);
      expect(kids).toContain(rotatedKid);

      // Clients survive, and new tokens are signed with the rotated key.
      const token = await clientCredentials(
        server.url,
        {},
        { authorization: basic(BOT.id, BOT.secret) },
      );
      expect(token.status).toBe(200);
      expect(
        decodeProtectedHeader(((await token.json()) as { access_token: string }).access_token).kid,
      ).toBe(rotatedKid);

      const list = await cli('users', 'list');
      expect(list.stdout).toContain(`${SEC.email}\t-\t-\tsecurity-team`);
      expect(list.stdout).toContain(`${DEV.email}\tDana Developer\tdeveloper\t-`);
      const verify = await cli('audit', 'verify');
      expect(verify.code).toBe(0);
      expect(
        Number(/^ok: (\d+) events(?:; checkpoints: .*)?$/.exec(verify.stdout.trim())![1]),
      ).toBeGreaterThan(auditCount);
    },
  );
});
