import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { rawFetch } from '../helpers/raw-http.ts';

const NAME = '<script>alert("x")</script> & tools';

describe('the home page', () => {
  let t: TestServer;
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mcpe-home-'));
    const catalogue = JSON.parse(await readFile('scopes.json', 'utf8'));
    delete catalogue.$schema;
    catalogue.resources['http://localhost:4000/mcp'].name = NAME;
    await writeFile(join(dir, 'scopes.json'), JSON.stringify(catalogue));
    t = await startTestServer('pglite', { SCOPES_FILE: join(dir, 'scopes.json') });
  });
  afterAll(async () => {
    await t?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('is what discovery names as service_documentation, and says what this server is', async () => {
    const doc = (await (await fetch(`${t.url}/.well-known/openid-configuration`)).json()) as {
      service_documentation: string;
    };
    expect(doc.service_documentation).toBe(`${t.url}/`);
    const res = await fetch(doc.service_documentation);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    expect(res.headers.get('content-security-policy')).toContain("default-src 'none'");
    const html = await res.text();
    expect(html).toContain('authorization server for MCP');
    expect(html).toContain(`<code>${t.url}</code>`);
    expect(html).not.toMatch(/<script/i);
  });

  it('links to both metadata documents, the keys, the sign-in, account, approval and console pages and the documentation, and each link works', async () => {
    const html = await (await fetch(`${t.url}/`)).text();
    const links = [...html.matchAll(/href="([^"]+)"/g)].map((m) => m[1]!);
    expect(links).toEqual(
      expect.arrayContaining([
        '/.well-known/oauth-authorization-server',
        '/.well-known/openid-configuration',
        '/jwks',
        '/login',
        '/account',
        '/approvals',
        '/console',
        '/docs',
      ]),
    );
    for (const link of links) {
      const res = await fetch(new URL(link, t.url), { redirect: 'manual' });
      // /account and /approvals send a signed-out visitor to the sign-in page.
      expect([200, 302, 303]).toContain(res.status);
    }
    const docs = await fetch(`${t.url}/docs`);
    expect(docs.headers.get('content-type')).toBe('text/plain; charset=utf-8');
    expect(await docs.text()).toMatch(/^# mcp-elevate/);
  });

  it("lists the catalogue's MCP servers with every name escaped", async () => {
    const html = await (await fetch(`${t.url}/`)).text();
    expect(html).toContain('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; tools');
    expect(html).toContain('<code>http://localhost:4000/mcp</code>');
  });

  it('shows ISSUER, not a hostile Host header', async () => {
    const html = await (await rawFetch({ host: 'attacker.example' })(`${t.url}/`)).text();
    expect(html).not.toContain('attacker.example');
    expect(html).toContain(`<code>${t.url}</code>`);
  });
});
