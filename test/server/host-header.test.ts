import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as client from 'openid-client';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { HttpBrowser, formAction, hiddenField } from '../helpers/browser.ts';
import { rawFetch } from '../helpers/raw-http.ts';
import { registerClient } from '../../src/oidc/clients.ts';

const RESOURCE = 'http://localhost:4000/mcp';
const REDIRECT = 'http://127.0.0.1:9/callback';
const HOSTILE = {
  host: 'attacker.example',
  'x-forwarded-host': 'forwarded.attacker.example',
  'x-forwarded-proto': 'https',
  'x-forwarded-for': '203.0.113.7',
};

/** Every string in a JSON document that looks like a URL. */
function urlsIn(value: unknown): string[] {
  if (typeof value === 'string') return /^[a-z]+:\/\//i.test(value) ? [value] : [];
  if (Array.isArray(value)) return value.flatMap(urlsIn);
  if (value && typeof value === 'object') return Object.values(value).flatMap(urlsIn);
  return [];
}

/** Sends a request line with an absolute-form target (RFC 9112 §3.2.2), which fetch never does. */
function absoluteFormGet(base: string, target: string): Promise<string> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => {
      socket.end(`GET ${target} HTTP/1.1\r\nHost: attacker.example\r\nConnection: close\r\n\r\n`);
    });
    let data = '';
    socket.on('data', (c) => {
      data += c;
    });
    socket.on('end', () => resolve(data));
    socket.on('error', reject);
  });
}

describe.each([false, true])(
  'published URLs follow ISSUER, never the request (TRUST_PROXY=%s)',
  (trustProxy) => {
    let t: TestServer;
    const hostile = rawFetch(HOSTILE);

    beforeAll(async () => {
      t = await startTestServer('pglite', { TRUST_PROXY: String(trustProxy) });
      await t.server.users.create({
        email: 'dev@example.com',
        password: 'correct horse',
        roles: ['developer'],
      });
      await registerClient(t.server.provider, t.server.db.db, {
        id: 'ide',
        redirectUris: [REDIRECT],
        grantTypes: ['authorization_code', 'refresh_token'],
      });
    });
    afterAll(async () => t?.close());

    it('both metadata documents name only ISSUER URLs under hostile Host and X-Forwarded-* headers', async () => {
      for (const path of [
        '/.well-known/openid-configuration',
        '/.well-known/oauth-authorization-server',
      ]) {
        const res = await hostile(`${t.url}${path}`);
        expect(res.status).toBe(200);
        const doc = (await res.json()) as Record<string, unknown>;
        expect(doc.issuer).toBe(t.url);
        expect(doc.token_endpoint).toBe(`${t.url}/token`);
        const urls = urlsIn(doc);
        expect(urls.length).toBeGreaterThan(5);
        for (const url of urls) expect(url === t.url || url.startsWith(`${t.url}/`)).toBe(true);
      }
    });

    it('an absolute-form request target does not change the published URLs', async () => {
      const raw = await absoluteFormGet(
        t.url,
        'http://attacker.example/.well-known/openid-configuration',
      );
      expect(raw).toMatch(/^HTTP\/1\.1 200/);
      expect(raw).not.toContain('attacker.example');
      expect(raw).toContain(`"token_endpoint":"${t.url}/token"`);
    });

    it('a whole authorization flow with hostile headers redirects only within ISSUER and to the client', async () => {
      const locations: string[] = [];
      const browser = new HttpBrowser(async (url, init) => {
        const res = await hostile(url, init);
        const location = res.headers.get('location');
        if (location) locations.push(location);
        return res;
      });
      const config = await client.discovery(new URL(t.url), 'ide', undefined, client.None(), {
        execute: [client.allowInsecureRequests],
      });
      const verifier = client.randomPKCECodeVerifier();
      const url = client.buildAuthorizationUrl(config, {
        redirect_uri: REDIRECT,
        resource: RESOURCE,
        code_challenge: await client.calculatePKCECodeChallenge(verifier),
        code_challenge_method: 'S256',
      });
      let step = await browser.follow(url.href, REDIRECT);
      for (let i = 0; i < 4 && !step.url.startsWith(REDIRECT); i++) {
        const html = await step.res.text();
        expect(html).not.toContain('attacker.example');
        const fields: Record<string, string> = formAction(html, step.url).endsWith('/login')
          ? { csrf: hiddenField(html, 'csrf'), email: 'dev@example.com', password: 'correct horse' }
          : { csrf: hiddenField(html, 'csrf'), decision: 'allow' };
        step = await browser.submit(formAction(html, step.url), fields, REDIRECT);
      }
      expect(step.url.startsWith(REDIRECT)).toBe(true);
      expect(new URL(step.url).searchParams.get('iss')).toBe(t.url);
      expect(locations.length).toBeGreaterThan(2);
      for (const location of locations) {
        const absolute = new URL(location, t.url).href;
        expect(absolute.startsWith(`${t.url}/`) || absolute.startsWith(REDIRECT)).toBe(true);
      }
    });

    it('the approval pages redirect within ISSUER', async () => {
      const res = await hostile(`${t.url}/approvals`);
      expect([302, 303]).toContain(res.status);
      expect(new URL(res.headers.get('location')!, t.url).href.startsWith(`${t.url}/login`)).toBe(
        true,
      );
    });

    it(`takes the client address from X-Forwarded-For ${trustProxy ? 'only' : 'never'} when TRUST_PROXY is ${trustProxy}`, async () => {
      const browser = new HttpBrowser(hostile);
      const config = await client.discovery(new URL(t.url), 'ide', undefined, client.None(), {
        execute: [client.allowInsecureRequests],
      });
      const url = client.buildAuthorizationUrl(config, {
        redirect_uri: REDIRECT,
        resource: RESOURCE,
        code_challenge: 'a'.repeat(43),
        code_challenge_method: 'S256',
      });
      const page = await browser.follow(url.href, REDIRECT);
      const html = await page.res.text();
      const failed = await browser.submit(formAction(html, page.url), {
        csrf: hiddenField(html, 'csrf'),
        email: 'dev@example.com',
        password: 'wrong',
      });
      expect(failed.res.status).toBe(401);
      await t.server.audit.flush();
      const row = await t.server.db.db
        .selectFrom('audit_event')
        .select('data')
        .where('action', '=', 'login')
        .where('result', '=', 'failure')
        .orderBy('seq', 'desc')
        .executeTakeFirstOrThrow();
      const address = (row.data as { address?: string }).address;
      if (trustProxy) expect(address).toBe('203.0.113.7');
      else expect(address).toMatch(/127\.0\.0\.1/);
    });
  },
);
