import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as client from 'openid-client';
import { databaseKinds } from '../helpers/databases.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { HttpBrowser, formAction, hiddenField } from '../helpers/browser.ts';

const REDIRECT = 'http://127.0.0.1:9/cb';
const XSS = '<script>alert(1)</script><img src=x onerror=alert(2)>';

describe.each(databaseKinds())(
  'login and consent pages resist CSRF and markup injection (%s)',
  (kind) => {
    let t: TestServer;
    let config: client.Configuration;
    beforeAll(async () => {
      t = await startTestServer(kind);
      await t.server.users.create({
        email: 'dev@example.com',
        password: 'dev password',
        roles: ['developer'],
      });
      // A client registered by anyone through DCR, with a hostile name.
      const reg = await fetch(`${t.url}/reg`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          client_name: XSS,
          redirect_uris: [REDIRECT],
          token_endpoint_auth_method: 'none',
        }),
      });
      const { client_id } = (await reg.json()) as { client_id: string };
      config = await client.discovery(new URL(t.url), client_id, undefined, client.None(), {
        execute: [client.allowInsecureRequests],
      });
    });
    afterAll(async () => t?.close());

    const start = async (browser: HttpBrowser) => {
      const url = client.buildAuthorizationUrl(config, {
        redirect_uri: REDIRECT,
        resource: 'http://localhost:4000/mcp',
        scope: 'mcp:tools:read',
        code_challenge: 'a'.repeat(43),
        code_challenge_method: 'S256',
      });
      return browser.follow(url.href, REDIRECT);
    };

    it("refuses a login post without the CSRF token, or with another interaction's token", async () => {
      const browser = new HttpBrowser();
      const step = await start(browser);
      const html = await step.res.text();
      const action = formAction(html, step.url);
      const missing = await browser.request(action, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ email: 'dev@example.com', password: 'dev password' }),
      });
      expect(missing.status).toBe(403);
      const other = new HttpBrowser();
      const otherHtml = await (await start(other)).res.text();
      const foreign = await browser.request(action, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          csrf: hiddenField(otherHtml, 'csrf'),
          email: 'dev@example.com',
          password: 'dev password',
        }),
      });
      expect(foreign.status).toBe(403);
    });

    it('shows a hostile client name as text on the login and consent pages', async () => {
      const browser = new HttpBrowser();
      const step = await start(browser);
      const login = await step.res.text();
      expect(login).not.toContain('<script>alert(1)');
      expect(login).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
      const next = await browser.submit(
        formAction(login, step.url),
        { csrf: hiddenField(login, 'csrf'), email: 'dev@example.com', password: 'dev password' },
        REDIRECT,
      );
      const consent = await next.res.text();
      expect(consent).toContain('Authorize');
      expect(consent).not.toContain('<img src=x');
      expect(consent).toContain('&lt;img src=x onerror=alert(2)&gt;');
      expect(next.res.headers.get('content-security-policy')).toContain("default-src 'none'");
    });
  },
);
