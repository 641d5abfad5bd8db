import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as client from 'openid-client';
import { chromium, type Browser } from 'playwright-core';
import { databaseKinds } from '../helpers/databases.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { HttpBrowser, formAction, hiddenField } from '../helpers/browser.ts';
import {
  AGENT_REDIRECT,
  CIBA,
  RESOURCE,
  registerAgent,
  requestElevation,
  userToken,
} from '../helpers/agents.ts';

const CHROMIUM = '/usr/bin/chromium';
const skipBrowser = !existsSync(CHROMIUM) && !process.env.REQUIRE_BROWSER;
const PRODUCTION = 'mcp:deploy:production';
const PASSWORD = 'senior password';

/** ARCHITECTURE.md §6: the requester can cancel a pending ticket, over the API and on the waiting page. */
describe.each(databaseKinds())('the requester cancels a pending ticket (%s)', (kind) => {
  let t: TestServer;
  let agent: client.Configuration;
  let seniorId: string;
  beforeAll(async () => {
    t = await startTestServer(kind, { CIBA_POLL_INTERVAL: '1' });
    seniorId = (
      await t.server.users.create({
        email: 'senior@example.com',
        password: PASSWORD,
        roles: ['senior_developer'],
      })
    ).id;
    await t.server.users.create({
      email: 'other@example.com',
      password: PASSWORD,
      roles: ['senior_developer'],
    });
    agent = await registerAgent(t);
  });
  afterAll(async () => t?.close());

  const cancel = (id: string, token?: string) =>
    fetch(`${t.url}/elevation/v1/tickets/${id}/cancel`, {
      method: 'POST',
      headers: token ? { authorization: `Bearer ${token}` } : {},
    });
  /** One CIBA poll by the agent, as raw HTTP so the error code is visible. */
  const poll = async (authReqId: string) => {
    const res = await fetch(`${t.url}/token`, {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from('agent:agent-secret-value').toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: new URLSearchParams({ grant_type: CIBA, auth_req_id: authReqId }),
    });
    return { status: res.status, body: (await res.json()) as { error?: string } };
  };

  it("over the API: only the requester's own token cancels, once; the CIBA request then ends with access_denied", async () => {
    const mine = await userToken(agent, 'senior@example.com', PASSWORD);
    const theirs = await userToken(agent, 'other@example.com', PASSWORD);
    const started = await requestElevation(agent, mine.access_token, PRODUCTION, 'Hotfix INC-9');
    const ticket = (await t.server.elevation.ticketByRef(started.auth_req_id))!;
    expect(ticket.status).toBe('pending');
    expect((await poll(started.auth_req_id)).body.error).toBe('authorization_pending');

    expect((await cancel(ticket.id)).status).toBe(401);
    expect((await cancel(ticket.id, theirs.access_token)).status).toBe(404);
    expect((await cancel('no-such-ticket', mine.access_token)).status).toBe(404);
    expect((await cancel('bad%00id', mine.access_token)).status).toBe(400); // the input boundary (ARCHITECTURE.md §8)
    const done = await cancel(ticket.id, mine.access_token);
    expect(done.status).toBe(200);
    expect(await done.json()).toEqual({ id: ticket.id, status: 'cancelled' });
    expect((await cancel(ticket.id, mine.access_token)).status).toBe(409);

    // No wait for the polling interval: slow_down only ever replaces authorization_pending.
    expect(await poll(started.auth_req_id)).toMatchObject({
      status: 400,
      body: { error: 'access_denied' },
    });
    await t.server.audit.flush();
    const events = await t.server.db.db
      .selectFrom('audit_event')
      .select(['actor', 'data'])
      .where('action', '=', 'ticket.cancelled')
      .execute();
    expect(events).toEqual([
      expect.objectContaining({
        actor: seniorId,
        data: expect.objectContaining({ ticket: ticket.id }),
      }),
    ]);
  });

  it.skipIf(skipBrowser)(
    'in Chromium: the waiting page has a cancel button, and the flow returns access_denied to the client',
    async () => {
      const browser: Browser = await chromium.launch({
        executablePath: CHROMIUM,
        args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
      });
      try {
        const context = await browser.newContext();
        // The client's redirect URI: answered here so the final navigation can be read.
        await context.route(`${AGENT_REDIRECT}**`, (route) =>
          route.fulfill({ body: 'client callback' }),
        );
        const page = await context.newPage();
        const url = client.buildAuthorizationUrl(agent, {
          redirect_uri: AGENT_REDIRECT,
          resource: RESOURCE,
          scope: `mcp:tools:read ${PRODUCTION}`,
          code_challenge: await client.calculatePKCECodeChallenge(client.randomPKCECodeVerifier()),
          code_challenge_method: 'S256',
        });
        await page.goto(url.href);
        await page.locator('#email').fill('senior@example.com');
        await page.locator('#password').fill(PASSWORD);
        await page.getByRole('button', { name: 'Sign in' }).click();
        await page.locator('#justification').fill('Roll back INC-10');
        await page.getByRole('button', { name: 'Allow' }).click();
        await page.waitForURL(/\/wait$/);
        expect(await page.locator('h1').textContent()).toBe('Waiting for approval');
        await page.getByRole('button', { name: 'Cancel this request' }).click();
        await page.waitForURL((u) => u.href.startsWith(AGENT_REDIRECT));
        const callback = new URL(page.url());
        expect(callback.searchParams.get('error')).toBe('access_denied');
        expect(callback.searchParams.get('error_description')).toContain('cancelled');
        const tickets = await t.server.db.db
          .selectFrom('elevation_ticket')
          .select('status')
          .where('channel', '!=', 'ciba')
          .execute();
        expect(tickets.map((r) => r.status)).toEqual(['cancelled']);
      } finally {
        await browser.close();
      }
    },
  );

  it("the waiting page's cancel form needs its CSRF token; with it the flow ends in access_denied", async () => {
    const browser = new HttpBrowser();
    const url = client.buildAuthorizationUrl(agent, {
      redirect_uri: AGENT_REDIRECT,
      resource: RESOURCE,
      scope: `mcp:tools:read ${PRODUCTION}`,
      code_challenge: await client.calculatePKCECodeChallenge(client.randomPKCECodeVerifier()),
      code_challenge_method: 'S256',
    });
    const login = await browser.follow(url.href, AGENT_REDIRECT);
    const loginHtml = await login.res.text();
    const consent = await browser.submit(
      formAction(loginHtml, login.url),
      { csrf: hiddenField(loginHtml, 'csrf'), email: 'senior@example.com', password: PASSWORD },
      AGENT_REDIRECT,
    );
    const consentHtml = await consent.res.text();
    const waiting = await browser.submit(
      formAction(consentHtml, consent.url),
      { csrf: hiddenField(consentHtml, 'csrf'), decision: 'allow', justification: 'Rotate keys' },
      AGENT_REDIRECT,
    );
    expect(waiting.url).toMatch(/\/wait$/);
    const waitingHtml = await waiting.res.text();
    const action = formAction(waitingHtml, waiting.url);
    expect(action).toMatch(/\/cancel$/);
    const uid = new URL(waiting.url).pathname.split('/')[2]!;

    const forged = await browser.request(action, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'csrf=forged',
    });
    expect(forged.status).toBe(403);
    expect((await t.server.elevation.ticketByRef(uid))!.status).toBe('pending');

    const done = await browser.submit(
      action,
      { csrf: hiddenField(waitingHtml, 'csrf') },
      AGENT_REDIRECT,
    );
    expect(done.url.startsWith(AGENT_REDIRECT)).toBe(true);
    expect(new URL(done.url).searchParams.get('error')).toBe('access_denied');
    expect((await t.server.elevation.ticketByRef(uid))!.status).toBe('cancelled');
  });
});
