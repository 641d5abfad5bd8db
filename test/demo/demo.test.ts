import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_USERS } from '../../scripts/demo/seed.ts';
import { HttpBrowser, hiddenField } from '../helpers/browser.ts';
import { agentPost, readWalkthrough, startDemo, type DemoProcess } from './helpers.ts';

/** Signs in on the approvals pages over HTTP; the status of the answer (303 = signed in). */
async function approverSignIn(issuer: string, email: string, password: string): Promise<number> {
  const browser = new HttpBrowser();
  const form = await (await browser.request(`${issuer}/approvals/login?next=/approvals`)).text();
  const res = await browser.request(`${issuer}/approvals/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      csrf: hiddenField(form, 'csrf'),
      next: '/approvals',
      email,
      password,
    }),
  });
  return res.status;
}

describe('npm run demo', () => {
  let dataDir: string;
  let first: DemoProcess;

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'mcpe-demo-'));
    first = await startDemo(dataDir);
  }, 180_000);
  afterAll(async () => {
    await first?.stop('SIGKILL');
    await rm(dataDir, { recursive: true, force: true });
  });

  it('serves discovery on the authorization server, and resource metadata and health on the example MCP server', async () => {
    const issuer = `http://localhost:${first.port}`;
    const meta = (await (
      await fetch(`${issuer}/.well-known/oauth-authorization-server`)
    ).json()) as Record<string, unknown>;
    expect(meta.issuer).toBe(issuer);
    expect(meta.backchannel_authentication_endpoint).toBe(`${issuer}/backchannel`);

    const example = `http://127.0.0.1:${first.examplePort}`;
    const prm = await fetch(`${example}/.well-known/oauth-protected-resource/mcp`);
    expect(prm.status).toBe(200);
    expect(await prm.json()).toMatchObject({
      resource: `http://localhost:${first.examplePort}/mcp`,
      authorization_servers: [issuer],
    });
    expect((await fetch(`${example}/healthz`)).status).toBe(200);
    // Unauthenticated MCP requests are challenged, pointing at the metadata.
    const mcp = await fetch(`${example}/mcp`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    expect(mcp.status).toBe(401);
    expect(mcp.headers.get('www-authenticate')).toContain(
      `resource_metadata="http://localhost:${first.examplePort}/.well-known/oauth-protected-resource/mcp"`,
    );
  });

  it('prints a walkthrough naming every demo user with a password, the approvals page, the example server and the mail folder', () => {
    const text = first.stdout();
    const w = readWalkthrough(text);
    for (const user of DEMO_USERS) {
      expect(text).toContain(user.email);
      expect(w.passwords[user.email]).toMatch(/^\S{8,}$/);
    }
    expect(text).toContain(`http://localhost:${first.port}/approvals`);
    expect(text).toContain(`http://localhost:${first.port}/.well-known/oauth-authorization-server`);
    expect(text).toContain(`http://localhost:${first.examplePort}/mcp`);
    expect(text).toContain(join(dataDir, 'mail'));
    expect(text).toContain('login_hint_token=');
    // The walkthrough has stdout to itself: logs go to stderr.
    expect(text).not.toMatch(/^\{"level"/m);
    expect(first.stderr()).toContain('"msg":"mcp-elevate listening"');
  });

  it('lets every printed password sign in, and the printed agent secret get a base-scope token', async () => {
    const w = readWalkthrough(first.stdout());
    for (const user of DEMO_USERS)
      expect(await approverSignIn(w.issuer, user.email, w.passwords[user.email]!)).toBe(303);
    const token = await agentPost(w, '/token', {
      grant_type: 'client_credentials',
      resource: w.resource,
    });
    expect(token.status).toBe(200);
    expect(token.body.scope.split(' ').sort()).toEqual(['mcp:resources:read', 'mcp:tools:read']);
  });

  it('exits 0 on SIGTERM, closing both servers', async () => {
    expect(await first.stop('SIGTERM')).toBe(0);
    await expect(fetch(`http://127.0.0.1:${first.port}/healthz`)).rejects.toThrow();
    await expect(fetch(`http://127.0.0.1:${first.examplePort}/healthz`)).rejects.toThrow();
    expect(first.stderr()).toContain('"msg":"http server closed"');
  });

  it(
    'starts again on the same data folder, finding its users and clients with the same credentials, and exits 0 on SIGINT',
    { timeout: 180_000 },
    async () => {
      const before = readWalkthrough(first.stdout());
      const second = await startDemo(dataDir);
      try {
        const after = readWalkthrough(second.stdout());
        expect(after.passwords).toEqual(before.passwords);
        expect(after.agent).toBe(before.agent);
        expect(
          await approverSignIn(
            after.issuer,
            'lead@example.com',
            after.passwords['lead@example.com']!,
          ),
        ).toBe(303);
        expect(
          (
            await agentPost(after, '/token', {
              grant_type: 'client_credentials',
              resource: after.resource,
            })
          ).status,
        ).toBe(200);
      } finally {
        expect(await second.stop('SIGINT')).toBe(0);
      }
    },
  );

  it('refuses a bad EXAMPLE_PORT with one line naming it and exit code 1', async () => {
    await expect(startDemo(dataDir, { EXAMPLE_PORT: 'http' })).rejects.toThrow(
      /demo exited with 1:[\s\S]*demo: EXAMPLE_PORT: /,
    );
  });

  it(
    'with its credentials file deleted but its clients kept, stops with one line and writes no file naming a secret nothing accepts',
    { timeout: 120_000 },
    async () => {
      await rm(join(dataDir, 'demo-credentials.json'));
      for (let run = 0; run < 2; run++) {
        await expect(startDemo(dataDir)).rejects.toThrow(
          /demo exited with 1:[\s\S]*demo: client demo-agent exists but its secret was lost/,
        );
        await expect(stat(join(dataDir, 'demo-credentials.json'))).rejects.toMatchObject({
          code: 'ENOENT',
        });
      }
    },
  );
});
