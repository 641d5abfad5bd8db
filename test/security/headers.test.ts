import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HttpBrowser, formAction, hiddenField } from '../helpers/browser.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { publicClient } from './signin-helpers.ts';
import * as client from 'openid-client';

const PASSWORD = 'headers password';

/** The headers every HTML page must carry, whoever rendered it (our views or oidc-provider). */
function expectProtected(res: Response, page: string): void {
  expect(res.headers.get('content-type'), page).toMatch(/^text\/html/);
  expect(res.headers.get('x-frame-options'), page).toBe('DENY');
  const csp = res.headers.get('content-security-policy') ?? '';
  expect(csp, page).toMatch(/frame-ancestors 'none'/);
  expect(csp, page).toMatch(/default-src 'none'/);
  expect(csp, page).not.toMatch(/script-src[^;]*'unsafe-inline'/);
  expect(res.headers.get('x-content-type-options'), page).toBe('nosniff');
  expect(res.headers.get('referrer-policy'), page).toBe('no-referrer');
}

/** Security headers on every HTML page (ARCHITECTURE.md §13), set once in front of every route. */
describe('every HTML page is protected against framing and injection', () => {
  let t: TestServer;
  let config: client.Configuration;
  beforeAll(async () => {
    t = await startTestServer('pglite');
    await t.server.users.create({
      email: 'lead@example.com',
      password: PASSWORD,
      groups: ['tech-lead'],
    });
    config = await publicClient(t);
  });
  afterAll(async () => t?.close());

  it("oidc-provider's logout page (/session/end)", async () => {
    const res = await fetch(`${t.url}/session/end`);
    expect(res.status).toBe(200);
    expectProtected(res, '/session/end');
  });

  it("oidc-provider's error page (a bad authorization request)", async () => {
    const res = await fetch(`${t.url}/auth?client_id=nobody&response_type=code`);
    expect(res.status).toBe(400);
    expectProtected(res, '/auth error');
  });

  it('the login and consent pages of an interaction', async () => {
    const browser = new HttpBrowser();
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: 'http://127.0.0.1:9/cb',
      resource: 'http://localhost:4000/mcp',
      scope: 'mcp:tools:read',
      code_challenge: 'a'.repeat(43),
      code_challenge_method: 'S256',
    });
    const login = await browser.follow(url.href, 'http://127.0.0.1:9/cb');
    expect(login.url).toMatch(/\/interaction\//);
    expectProtected(login.res, 'login');
    const html = await login.res.text();
    const consent = await browser.submit(
      formAction(html, login.url),
      {
        csrf: hiddenField(html, 'csrf'),
        email: 'lead@example.com',
        password: PASSWORD,
      },
      'http://127.0.0.1:9/cb',
    );
    expectProtected(consent.res, 'consent');
    expect(await consent.res.text()).toContain('Authorize');
  });

  it('an interaction error page (unknown or expired interaction)', async () => {
    const res = await fetch(`${t.url}/interaction/does-not-exist`);
    expect(res.status).toBeGreaterThanOrEqual(400);
    expectProtected(res, '/interaction error');
  });

  it('the approval pages: sign-in, the list, and a missing ticket', async () => {
    const browser = new HttpBrowser();
    const login = await browser.request(`${t.url}/approvals/login`);
    expectProtected(login, '/approvals/login');
    const signedIn = await browser.request(`${t.url}/approvals/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        csrf: hiddenField(await login.text(), 'csrf'),
        next: '/approvals',
        email: 'lead@example.com',
        password: PASSWORD,
      }),
    });
    expect(signedIn.status).toBe(303);
    const list = await browser.request(`${t.url}/approvals`);
    expect(list.status).toBe(200);
    expectProtected(list, '/approvals');
    const missing = await browser.request(`${t.url}/approvals/no-such-ticket`);
    expect(missing.status).toBe(404);
    expectProtected(missing, '/approvals/<missing>');
  });
});
