import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as client from 'openid-client';
import { sql } from 'kysely';
import { databaseKinds } from '../helpers/databases.ts';
import type { HttpBrowser } from '../helpers/browser.ts';
import { requestElevation } from '../helpers/agents.ts';
import { approver, signIn, ticketStatus } from '../approvals/fixture.ts';
import {
  accountCsrf,
  elevationRevoked,
  postForm,
  startAccountWorld,
  type AccountWorld,
} from './account-fixture.ts';

describe.each(databaseKinds())('the account page forms (%s)', (kind) => {
  let w: AccountWorld;
  let dev: HttpBrowser;
  let other: HttpBrowser;

  beforeAll(async () => {
    w = await startAccountWorld(kind);
    dev = await approver(w.t, 'dev@example.com');
    other = await approver(w.t, 'outsider@example.com');
  }, 180_000);
  afterAll(async () => w?.t.close());

  const url = (path: string) => `${w.t.url}${path}`;
  /** Every form of the page for the requester's own items: [action, extra fields]. */
  const forms = (): Array<[string, Record<string, string>]> => [
    [`/account/elevations/${w.dev.elevation}/drop`, {}],
    [`/account/tickets/${w.dev.pending}/cancel`, {}],
    ['/account/agents/revoke', { client: 'agent' }],
  ];
  const nothingChanged = async () => {
    expect(await elevationRevoked(w.t, w.dev.elevation)).toBe(false);
    expect(await ticketStatus(w.t, w.dev.pending)).toBe('pending');
    // The grants stay (a refresh here would rotate the token the revoke test uses).
    const grants = await w.t.server.db.db
      .selectFrom('oidc_payload')
      .select('id')
      .where('model', '=', 'Grant')
      .where(sql<string>`payload->>'accountId'`, '=', w.requester)
      .execute();
    expect(grants.length).toBeGreaterThan(0);
  };

  it('sends a signed-out visitor to sign in and back to /account', async () => {
    const { browser } = await signIn(w.t, 'nobody@example.com', 'wrong');
    const res = await browser.request(url('/account'));
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe('/login?next=%2Faccount');
    for (const [action, fields] of forms()) {
      const post = await postForm(browser, url(action), fields);
      expect(post.status).toBe(303);
      expect(post.headers.get('location')).toBe('/login?next=%2Faccount');
    }
    await nothingChanged();
  });

  it("loads only a script file of this site: no inline script, CSP script-src 'self'", async () => {
    const res = await dev.request(url('/account'));
    const csp = res.headers.get('content-security-policy')!;
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toMatch(/script-src[^;]*unsafe-inline/);
    expect(res.headers.get('cache-control')).toBe('no-store');
    const scripts = [...(await res.text()).matchAll(/<script([^>]*)>([\s\S]*?)<\/script>/g)];
    expect(scripts.map((m) => [m[1]!.trim(), m[2]])).toEqual([
      ['src="/static/local-time.js" defer', ''],
    ]);
    const js = await fetch(url('/static/local-time.js'));
    expect(js.status).toBe(200);
    expect(js.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(await js.text()).toContain("querySelectorAll('time[datetime]')");
  });

  it('refuses every form without a CSRF token, or with a token of another session, with 403', async () => {
    const foreign = await accountCsrf(other, w.t);
    // The same person signed in again elsewhere: that session's token is no good here either.
    const { browser: again } = await signIn(w.t, 'dev@example.com', undefined, '/account');
    const mineElsewhere = await accountCsrf(again, w.t);
    for (const [action, fields] of forms()) {
      for (const csrf of [undefined, foreign, mineElsewhere, 'forged']) {
        const res = await postForm(dev, url(action), { ...fields, ...(csrf ? { csrf } : {}) });
        expect(res.status, `${action} with ${csrf ? 'a foreign' : 'no'} token`).toBe(403);
        expect(await res.text()).toContain('The form has expired or was not sent by this site');
      }
    }
    await nothingChanged();
  });

  it("shows each user only their own items, and refuses another user's ids with 404", async () => {
    const mine = await (await dev.request(url('/account'))).text();
    expect(mine).toContain(`data-elevation="${w.dev.elevation}"`);
    expect(mine).toContain(`data-ticket="${w.dev.pending}"`);
    expect(mine).toContain(`data-ticket="${w.dev.denied}"`);
    for (const id of [w.other.elevation, w.other.pending, w.other.denied])
      expect(mine).not.toContain(id);

    const csrf = await accountCsrf(other, w.t);
    const drop = await postForm(other, url(`/account/elevations/${w.dev.elevation}/drop`), {
      csrf,
    });
    expect(drop.status).toBe(404);
    const cancel = await postForm(other, url(`/account/tickets/${w.dev.pending}/cancel`), { csrf });
    expect(cancel.status).toBe(404);
    const unknown = await postForm(other, url('/account/agents/revoke'), {
      csrf,
      client: 'never-authorized',
    });
    expect(unknown.status).toBe(404);
    const malformed = await postForm(other, url('/account/elevations/..%2F..%2Fx/drop'), { csrf });
    expect(malformed.status).toBe(404);
    const noAgent = await postForm(other, url('/account/agents/revoke'), { csrf });
    expect(noAgent.status).toBe(400);
    expect(await noAgent.text()).toContain('Choose an agent to revoke.');
    await nothingChanged();
    // The refusals changed nothing of the outsider's own either.
    expect(await elevationRevoked(w.t, w.other.elevation)).toBe(false);
  });

  it('cancels a pending request through the requester path, audited, with a 303 back and a notice', async () => {
    const csrf = await accountCsrf(dev, w.t);
    const res = await postForm(dev, url(`/account/tickets/${w.dev.pending}/cancel`), { csrf });
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe('/account?done=cancelled#notice');
    expect(await ticketStatus(w.t, w.dev.pending)).toBe('cancelled');
    const page = await (await dev.request(url('/account?done=cancelled'))).text();
    expect(page).toContain('The request was cancelled.');
    expect(page).toMatch(
      new RegExp(`data-ticket="${w.dev.pending}"[\\s\\S]*?data-status="cancelled"`),
    );
    // A second click: the request is closed, nothing changes.
    const again = await postForm(dev, url(`/account/tickets/${w.dev.pending}/cancel`), { csrf });
    expect(again.headers.get('location')).toBe('/account?done=closed#notice');
    await w.t.server.audit.flush();
    const events = await w.t.server.db.db
      .selectFrom('audit_event')
      .select(['actor', 'data'])
      .where('action', '=', 'ticket.cancelled')
      .execute();
    expect(events).toEqual([
      expect.objectContaining({
        actor: w.requester,
        data: expect.objectContaining({ ticket: w.dev.pending }),
      }),
    ]);
  });

  it("revokes an agent: its refresh and access tokens stop working and its elevations end; the other user's grant stays", async () => {
    const csrf = await accountCsrf(dev, w.t);
    const res = await postForm(dev, url('/account/agents/revoke'), { csrf, client: 'agent' });
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe('/account?done=revoked#notice');

    await expect(
      client.refreshTokenGrant(w.agent, w.dev.tokens.refresh_token!),
    ).rejects.toMatchObject({
      error: 'invalid_grant',
    });
    // The access token no longer names a stored grant: the server's own verifier refuses it.
    await expect(
      requestElevation(w.agent, w.dev.tokens.access_token, 'mcp:deploy:staging'),
    ).rejects.toMatchObject({
      error: 'invalid_request',
      error_description: expect.stringContaining('grant of this token has been revoked'),
    });
    expect(await elevationRevoked(w.t, w.dev.elevation)).toBe(true);
    const page = await (await dev.request(url('/account'))).text();
    expect(page).not.toContain('data-agent="agent"');
    expect(page).not.toContain(`data-elevation="${w.dev.elevation}"`);

    // The outsider authorized the same agent: their grant and elevation are untouched.
    await expect(client.refreshTokenGrant(w.agent, w.other.tokens.refresh_token!)).resolves.toEqual(
      expect.objectContaining({ access_token: expect.any(String) }),
    );
    expect(await elevationRevoked(w.t, w.other.elevation)).toBe(false);
    await w.t.server.audit.flush();
    const event = await w.t.server.db.db
      .selectFrom('audit_event')
      .select(['actor', 'subject', 'client_id'])
      .where('action', '=', 'grant.revoked')
      .executeTakeFirst();
    expect(event).toEqual({ actor: w.requester, subject: w.requester, client_id: 'agent' });
  });
});
