import { Cookie } from 'tough-cookie';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { databaseKinds } from '../helpers/databases.ts';
import { HttpBrowser, hiddenField } from '../helpers/browser.ts';
import { registerClient } from '../../src/oidc/clients.ts';
import {
  PASSWORD,
  approver,
  openTicket,
  signIn,
  startWithCast,
  ticketPage,
  type Cast,
} from './fixture.ts';

const CSP =
  "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'";

describe.each(databaseKinds())('approver sign-in and sessions (%s)', (kind) => {
  let c: Cast;

  beforeAll(async () => {
    c = await startWithCast(kind);
    // Registered before any page looks the agent up: the client adapter caches misses for a while.
    await registerClient(c.t.server.provider, c.t.server.db.db, {
      id: 'agent',
      name: 'Deploy <Bot>',
    });
  });
  afterAll(async () => c?.t.close());

  it('a signed-out visitor of a ticket is sent to sign in and comes back to the ticket', async () => {
    const ticket = await openTicket(c.t, c.requester);
    const b = new HttpBrowser();
    const first = await b.request(`${c.t.url}/approvals/${ticket.id}`);
    expect(first.status).toBe(303);
    expect(first.headers.get('location')).toBe(
      `/login?next=${encodeURIComponent(`/approvals/${ticket.id}`)}`,
    );
    const { res } = await signIn(c.t, 'lead@example.com', PASSWORD, `/approvals/${ticket.id}`);
    expect(res.headers.get('location')).toBe(`/approvals/${ticket.id}`);
  });

  it('after sign-in `next` leads only to a page of the web session (no open redirect)', async () => {
    const hostile = [
      'https://evil.example',
      '//evil.example/approvals',
      '/\\evil.example',
      '/\t/evil.example',
      'javascript:alert(1)',
      '/approvals/../admin',
      '/interaction/x',
      'approvals',
      '/account/../admin/v1/users',
      '/login',
      '/console/../logout',
      '/approvals/logout',
    ];
    for (const next of hostile) {
      const { res } = await signIn(c.t, 'lead@example.com', PASSWORD, next);
      expect(res.status, next).toBe(303);
      expect(res.headers.get('location'), next).toBe('/approvals');
    }
    // The login page itself never echoes a hostile `next` into its form.
    const page = await (await fetch(`${c.t.url}/approvals/login?next=https://evil.example`)).text();
    expect(hiddenField(page, 'next')).toBe('/approvals');
  });

  it('sets a signed, httpOnly, SameSite=Lax session cookie for the whole site (path /) for 8 hours', async () => {
    const { res } = await signIn(c.t, 'lead@example.com');
    const cookies = res.headers.getSetCookie().map((header) => Cookie.parse(header)!);
    const session = cookies.find((cookie) => cookie.key === 'mcp_elevate_session')!;
    const sig = cookies.find((cookie) => cookie.key === 'mcp_elevate_session.sig')!;
    for (const cookie of [session, sig]) {
      expect(cookie).toMatchObject({ path: '/', httpOnly: true, sameSite: 'lax' });
      const expires = (cookie.expires as Date).getTime();
      expect(Math.abs(expires - (Date.now() + 8 * 3600_000))).toBeLessThan(60_000);
    }
    expect(session.value).not.toMatch(/dev@|lead@/); // an opaque id and times, nothing personal
  });

  it('a tampered or unsigned session cookie is not a session', async () => {
    const b = await approver(c.t, 'lead@example.com');
    const page = `${c.t.url}/approvals`;
    const value = b.cookie(page, 'mcp_elevate_session')!;
    b.editCookie(page, 'mcp_elevate_session', value.replace(/^v2\.[^.]+/, `v2.${c.outsider}`));
    expect((await b.request(page)).status).toBe(303);
    // Unsigned: a fresh session whose signature cookie alone is dropped.
    const unsigned = await approver(c.t, 'lead@example.com');
    expect((await unsigned.request(page)).status).toBe(200);
    unsigned.editCookie(page, 'mcp_elevate_session.sig', undefined);
    expect((await unsigned.request(page)).status).toBe(303);
  });

  it('wrong passwords get 401, are audited, and are throttled with 429 after five', async () => {
    for (let i = 0; i < 5; i++)
      expect((await signIn(c.t, 'sre@example.com', 'wrong password')).res.status).toBe(401);
    const { res } = await signIn(c.t, 'sre@example.com', PASSWORD);
    expect(res.status).toBe(429);
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
    await c.t.server.audit.flush();
    const events = await c.t.server.db.db
      .selectFrom('audit_event')
      .select(['result'])
      .where('action', '=', 'approver.login')
      .where('actor', '=', c.sre)
      .execute();
    expect(events.filter((e) => e.result === 'failure')).toHaveLength(5);
  });

  it('records a successful sign-in as approver.login in the audit log', async () => {
    await approver(c.t, 'lead@example.com');
    await c.t.server.audit.flush();
    const event = await c.t.server.db.db
      .selectFrom('audit_event')
      .selectAll()
      .where('action', '=', 'approver.login')
      .where('actor', '=', c.lead)
      .where('result', '=', 'success')
      .executeTakeFirst();
    expect(event).toBeDefined();
  });

  it('a sign-in post without the form nonce cookie (login CSRF) is refused', async () => {
    const page = await (await fetch(`${c.t.url}/approvals/login`)).text();
    const res = await fetch(`${c.t.url}/approvals/login`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        csrf: hiddenField(page, 'csrf'),
        email: 'lead@example.com',
        password: PASSWORD,
      }),
    });
    expect(res.status).toBe(403);
    expect(res.headers.getSetCookie().some((s) => s.startsWith('mcp_elevate_session='))).toBe(
      false,
    );
  });

  it('sign-out needs the session token, then ends the session', async () => {
    const b = await approver(c.t, 'lead@example.com');
    const csrf = hiddenField(await (await b.request(`${c.t.url}/approvals`)).text(), 'csrf');
    const forged = await b.request(`${c.t.url}/approvals/logout`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'csrf=nope',
    });
    expect(forged.status).toBe(403);
    expect((await b.request(`${c.t.url}/approvals`)).status).toBe(200);
    const out = await b.request(`${c.t.url}/approvals/logout`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ csrf }),
    });
    expect(out.status).toBe(303);
    expect((await b.request(`${c.t.url}/approvals`)).status).toBe(303);
  });

  it('disabling an approver ends their session at once', async () => {
    const user = await c.t.server.users.create({
      email: 'temp@example.com',
      password: PASSWORD,
      groups: ['tech-lead'],
    });
    const b = await approver(c.t, 'temp@example.com');
    expect((await b.request(`${c.t.url}/approvals`)).status).toBe(200);
    await c.t.server.users.update(user.id, { disabled: true });
    expect((await b.request(`${c.t.url}/approvals`)).status).toBe(303);
  });

  it('every approval page forbids scripts, framing and caching', async () => {
    const ticket = await openTicket(c.t, c.requester);
    const b = await approver(c.t, 'lead@example.com');
    for (const path of [
      '/approvals/login',
      '/approvals',
      `/approvals/${ticket.id}`,
      '/approvals/unknown-id',
    ]) {
      const res = await b.request(`${c.t.url}${path}`);
      expect(res.headers.get('content-security-policy'), path).toBe(CSP);
      expect(res.headers.get('cache-control'), path).toBe('no-store');
    }
  });

  it("lists my pending tickets newest first with agent names, without my own requests or other groups' tickets", async () => {
    const older = await openTicket(c.t, c.requester, 'older request');
    const newer = await openTicket(c.t, c.requester, 'newer request');
    const mine = await openTicket(c.t, c.lead, 'the lead asks for themself');
    const b = await approver(c.t, 'lead@example.com');
    const html = await (await b.request(`${c.t.url}/approvals`)).text();
    expect(html).toContain('Pending approvals');
    expect(html).toContain('Deploy &lt;Bot&gt; <span class="muted">(<code>agent</code>)</span>');
    expect(html).toContain('dev@example.com');
    expect(html).toContain('mcp:deploy:production');
    expect(html).toMatch(/\d+ minutes left/);
    expect(html.indexOf(newer.id)).toBeGreaterThan(-1);
    expect(html.indexOf(newer.id)).toBeLessThan(html.indexOf(older.id));
    expect(html).not.toContain(mine.id);
    const outsider = await approver(c.t, 'outsider@example.com');
    expect(await (await outsider.request(`${c.t.url}/approvals`)).text()).toContain(
      'Nothing is waiting for your approval.',
    );
    // And a signed-out visitor is asked to sign in.
    expect((await ticketPage(new HttpBrowser(), c.t, newer.id)).status).toBe(303);
  });
});
