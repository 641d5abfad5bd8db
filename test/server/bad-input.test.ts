import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { databaseKinds } from '../helpers/databases.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { runCli } from '../helpers/cli.ts';
import { registerClient } from '../../src/oidc/clients.ts';
import { loadConfig } from '../../src/config/env.ts';

const basic = 'Basic ' + Buffer.from('bot:bot-secret-1234').toString('base64');
const form = { 'content-type': 'application/x-www-form-urlencoded', authorization: basic };

describe.each(databaseKinds())('bad input gets a clear 4xx, never a 500 (%s)', (kind) => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer(kind);
    await registerClient(t.server.provider, t.server.db.db, {
      id: 'bot',
      secret: 'bot-secret-1234',
      roles: ['viewer'],
    });
  });
  afterAll(async () => t?.close());

  const cases: Array<[string, () => RequestInit & { path: string }, number, string | RegExp]> = [
    [
      'client_credentials without a resource',
      () => ({
        path: '/token',
        method: 'POST',
        headers: form,
        body: 'grant_type=client_credentials',
      }),
      400,
      'invalid_target',
    ],
    [
      'an oversized token request',
      () => ({
        path: '/token',
        method: 'POST',
        headers: form,
        body: 'grant_type=client_credentials&x=' + 'a'.repeat(100_000),
      }),
      400,
      'invalid_request',
    ],
    [
      'a JSON body at the token endpoint',
      () => ({
        path: '/token',
        method: 'POST',
        headers: { ...form, 'content-type': 'application/json' },
        body: '{"grant_type":',
      }),
      400,
      'invalid_request',
    ],
    [
      'a garbled form body',
      () => ({ path: '/token', method: 'POST', headers: form, body: '%%%&&&==' }),
      400,
      'invalid_request',
    ],
    [
      'an unknown grant type',
      () => ({ path: '/token', method: 'POST', headers: form, body: 'grant_type=urn:x:unknown' }),
      400,
      'unsupported_grant_type',
    ],
    [
      'malformed JSON at registration',
      () => ({
        path: '/reg',
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{"redirect_uris": 5',
      }),
      400,
      'invalid_request',
    ],
    [
      'invalid client metadata at registration',
      () => ({
        path: '/reg',
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ redirect_uris: ['not a url'] }),
      }),
      400,
      /invalid_(redirect_uri|client_metadata)/,
    ],
    [
      'an unknown interaction',
      () => ({ path: '/interaction/does-not-exist', headers: { accept: 'text/html' } }),
      400,
      /session|interaction/i,
    ],
    [
      'an oversized login form',
      () => ({
        path: '/interaction/x/login',
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: 'a=' + 'x'.repeat(50_000),
      }),
      413,
      /Too Large/,
    ],
  ];

  it.each(cases)('%s', async (_name, make, status, marker) => {
    const { path, ...init } = make();
    const res = await fetch(t.url + path, init);
    expect(res.status).toBe(status);
    expect(await res.text()).toMatch(marker);
  });

  it('keeps serving after the bad requests', async () => {
    const res = await fetch(`${t.url}/token`, {
      method: 'POST',
      headers: form,
      body:
        'grant_type=client_credentials&resource=' + encodeURIComponent('http://localhost:4000/mcp'),
    });
    expect(res.status).toBe(200);
  });
});

describe('configuration errors', () => {
  it.each([
    [{ PORT: 'eighty' }, /^PORT: /],
    [{ PORT: '70000' }, /^PORT: /],
    [{ ISSUER: 'ftp://x' }, /^ISSUER: /],
    [{ DATABASE_URL: 'mysql://x' }, /^DATABASE_URL: /],
    [{ SMTP_URL: 'http://x' }, /^SMTP_URL: /],
    [{ LOG_LEVEL: 'loud' }, /^LOG_LEVEL: /],
    [{ TRUST_PROXY: 'maybe' }, /^TRUST_PROXY: /],
  ])('rejects %o with one line naming the variable', (env, expected) => {
    expect(() => loadConfig(env)).toThrow(expected);
    try {
      loadConfig(env);
    } catch (err) {
      expect((err as Error).message).not.toContain('\n');
    }
  });

  it('stops the CLI with a one-line error and a non-zero exit', async () => {
    const res = await runCli(['migrate'], { PORT: 'eighty' });
    expect(res.code).not.toBe(0);
    expect(res.stderr.trim().split('\n')).toHaveLength(1);
    expect(res.stderr).toMatch(/PORT/);
  });

  it('rejects an unknown command and a missing option with one line', async () => {
    const unknown = await runCli(['frobnicate'], {});
    expect(unknown.code).not.toBe(0);
    expect(unknown.stderr).toMatch(/unknown command/);
    const missing = await runCli(['users', 'add', '--email', 'x@y.z'], { DATA_DIR: ':memory:' });
    expect(missing.code).not.toBe(0);
    expect(missing.stderr.trim()).toBe('mcp-elevate: --password is required');
  });

  it('prints help for every command', async () => {
    for (const cmd of [
      ['--help'],
      ['serve', '--help'],
      ['users', 'add', '--help'],
      ['clients', 'add', '--help'],
      ['keys', 'rotate', '--help'],
    ]) {
      const res = await runCli(cmd, {});
      expect(res.code).toBe(0);
      expect(res.stdout).toMatch(/Usage: mcp-elevate/);
    }
  });
});
