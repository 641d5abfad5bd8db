import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as client from 'openid-client';
import { AGENT_REDIRECT, RESOURCE, registerAgent } from '../helpers/agents.ts';
import { HttpBrowser, hiddenField } from '../helpers/browser.ts';
import { runCli } from '../helpers/cli.ts';
import { startFederated, upstreamLink, type FederatedServer } from './fixture.ts';

const PASSWORD = 'local password';

describe('LOCAL_LOGIN=false (pglite)', () => {
  let f: FederatedServer;
  let agent: client.Configuration;
  beforeAll(async () => {
    f = await startFederated('pglite', { env: { LOCAL_LOGIN: 'false' } });
    agent = await registerAgent(f.t, 'ide-agent');
    await f.t.server.users.create({
      email: 'dev@example.com',
      password: PASSWORD,
      roles: ['developer'],
    });
    // The break-glass account comes from the command line, beside the running server.
    const added = await runCli(
      ['users', 'add', '--email', 'glass@example.com', '--password', PASSWORD, '--break-glass'],
      { DATA_DIR: f.t.dataDir, DATABASE_URL: f.t.db.url },
    );
    expect(added.code, added.stderr).toBe(0);
  }, 180_000);
  afterAll(async () => f?.close());

  /** The authorization flow's sign-in page, in a fresh browser. */
  async function interactionPage(): Promise<{ browser: HttpBrowser; url: string; html: string }> {
    const browser = new HttpBrowser();
    const url = client.buildAuthorizationUrl(agent, {
      redirect_uri: AGENT_REDIRECT,
      resource: RESOURCE,
      scope: 'mcp:tools:read',
      code_challenge: await client.calculatePKCECodeChallenge(client.randomPKCECodeVerifier()),
      code_challenge_method: 'S256',
    });
    const step = await browser.follow(url.href);
    return { browser, url: step.url, html: await step.res.text() };
  }

  const post = (browser: HttpBrowser, url: string, fields: Record<string, string>) =>
    browser.request(url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(fields),
    });

  it('shows no password form on either sign-in page, only the upstream buttons', async () => {
    const web = await (await new HttpBrowser().request(`${f.t.url}/login`)).text();
    const { html } = await interactionPage();
    for (const page of [web, html]) {
      expect(page).not.toContain('type="password"');
      expect(page).toContain('Password sign-in is turned off');
      expect(upstreamLink(page, 'Corp SSO')).toMatch(/^\/federation\/corp\/start\?/);
    }
  });

  it('refuses password posts on both pages, even with the right password', async () => {
    // A valid form token (from the break-glass form), so only the rule can refuse the post.
    const browser = new HttpBrowser();
    const page = await (await browser.request(`${f.t.url}/login?break-glass`)).text();
    const web = await post(browser, `${f.t.url}/login`, {
      csrf: hiddenField(page, 'csrf'),
      next: '/approvals',
      email: 'dev@example.com',
      password: PASSWORD,
    });
    expect(web.status).toBe(403);
    expect(await web.text()).toContain('Password sign-in is turned off');
    expect(browser.cookie(f.t.url, 'mcp_elevate_session')).toBeUndefined();

    const flow = await interactionPage();
    const form = await (await flow.browser.request(`${flow.url}?break-glass`)).text();
    const refused = await post(flow.browser, `${flow.url}/login`, {
      csrf: hiddenField(form, 'csrf'),
      email: 'dev@example.com',
      password: PASSWORD,
    });
    expect(refused.status).toBe(403);
    expect(await refused.text()).not.toContain('type="password"');
  });

  it('keeps a documented break-glass door: ?break-glass, for break-glass accounts only', async () => {
    const browser = new HttpBrowser();
    const page = await (await browser.request(`${f.t.url}/login?break-glass`)).text();
    expect(page).toContain('type="password"');
    expect(page).toContain('action="/login?break-glass"');
    const wrong = await post(browser, `${f.t.url}/login?break-glass`, {
      csrf: hiddenField(page, 'csrf'),
      next: '/approvals',
      email: 'glass@example.com',
      password: 'wrong password',
    });
    // A wrong password is answered like any refused account: nothing tells break-glass apart.
    expect(wrong.status).toBe(403);
    const again = await (await browser.request(`${f.t.url}/login?break-glass`)).text();
    const ok = await post(browser, `${f.t.url}/login?break-glass`, {
      csrf: hiddenField(again, 'csrf'),
      next: '/approvals',
      email: 'glass@example.com',
      password: PASSWORD,
    });
    expect(ok.status).toBe(303);
    expect(browser.cookie(f.t.url, 'mcp_elevate_session')).toBeDefined();
    await f.t.server.audit.flush();
    const signIns = await f.t.server.db.db
      .selectFrom('audit_event')
      .select('data')
      .where('action', '=', 'approver.login')
      .where('result', '=', 'success')
      .execute();
    expect(signIns.map((e) => e.data)).toContainEqual(
      expect.objectContaining({ breakGlass: true }),
    );
  });
});
