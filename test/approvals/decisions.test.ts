import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { databaseKinds } from '../helpers/databases.ts';
import { HttpBrowser, hiddenField } from '../helpers/browser.ts';
import {
  approver,
  elevationCount,
  openTicket,
  postDecision,
  startWithCast,
  ticketPage,
  ticketStatus,
  type Cast,
} from './fixture.ts';

describe.each(databaseKinds())('deciding on a ticket over HTTP (%s)', (kind) => {
  let c: Cast;

  beforeAll(async () => {
    c = await startWithCast(kind);
  });
  afterAll(async () => c?.t.close());

  it('an approver approves with a comment: 303 back to the page, which shows the result', async () => {
    const ticket = await openTicket(c.t, c.requester);
    const lead = await approver(c.t, 'lead@example.com');
    const res = await postDecision(lead, c.t, ticket.id, 'approve', { comment: 'ok <b>go</b>' });
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe(`/approvals/${ticket.id}?done=approve`);
    const page = await ticketPage(lead, c.t, ticket.id, '?done=approve');
    expect(page.status).toBe(200);
    expect(page.html).toContain('You approved this request.');
    expect(page.html).toContain('data-status="approved"');
    expect(page.html).toContain('ok &lt;b&gt;go&lt;/b&gt;');
    expect(page.html).not.toContain('id="decide"');
    expect(await ticketStatus(c.t, ticket.id)).toBe('approved');
    expect(await elevationCount(c.t, ticket.id)).toBe(1);
  });

  it('one deny denies the ticket and grants nothing', async () => {
    const ticket = await openTicket(c.t, c.requester);
    const sre = await approver(c.t, 'sre@example.com');
    expect(
      (await postDecision(sre, c.t, ticket.id, 'deny', { comment: 'not during the freeze' }))
        .status,
    ).toBe(303);
    expect(await ticketStatus(c.t, ticket.id)).toBe('denied');
    expect(await elevationCount(c.t, ticket.id)).toBe(0);
    expect((await ticketPage(sre, c.t, ticket.id)).html).toContain('data-status="denied"');
  });

  it('a decision without the CSRF token is refused with 403 and the ticket stays pending', async () => {
    const ticket = await openTicket(c.t, c.requester);
    const lead = await approver(c.t, 'lead@example.com');
    const res = await postDecision(lead, c.t, ticket.id, 'approve', { csrf: null });
    expect(res.status).toBe(403);
    expect(await res.text()).toContain('ERR_CSRF');
    expect(await ticketStatus(c.t, ticket.id)).toBe('pending');
  });

  it('a decision posted without an approver session goes to sign-in and changes nothing', async () => {
    const ticket = await openTicket(c.t, c.requester);
    const res = await postDecision(new HttpBrowser(), c.t, ticket.id, 'approve', { csrf: null });
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe(
      `/login?next=${encodeURIComponent(`/approvals/${ticket.id}`)}`,
    );
    expect(await ticketStatus(c.t, ticket.id)).toBe('pending');
  });

  it("a decision carrying another session's CSRF token is refused with 403 and the ticket stays pending", async () => {
    const ticket = await openTicket(c.t, c.requester);
    const lead = await approver(c.t, 'lead@example.com');
    // Same person, another sign-in: a token is bound to the session, not to the account.
    const otherSession = await approver(c.t, 'lead@example.com');
    const foreignToken = hiddenField((await ticketPage(otherSession, c.t, ticket.id)).html, 'csrf');
    const sreToken = hiddenField(
      (await ticketPage(await approver(c.t, 'sre@example.com'), c.t, ticket.id)).html,
      'csrf',
    );
    for (const csrf of [foreignToken, sreToken, 'x'.repeat(43)]) {
      expect((await postDecision(lead, c.t, ticket.id, 'approve', { csrf })).status).toBe(403);
    }
    expect(await ticketStatus(c.t, ticket.id)).toBe('pending');
    expect(await elevationCount(c.t, ticket.id)).toBe(0);
  });

  it('the requester cannot approve their own request, from any of their sessions', async () => {
    const ticket = await openTicket(c.t, c.requester);
    for (const session of [
      await approver(c.t, 'dev@example.com'),
      await approver(c.t, 'dev@example.com'),
    ]) {
      const page = await ticketPage(session, c.t, ticket.id);
      expect(page.status).toBe(403);
      expect(page.html).toContain('You cannot approve your own request');
      expect(page.html).not.toContain('Hotfix for incident 42');
      const csrf = hiddenField(page.html, 'csrf'); // the sign-out form's token: a valid token of this session
      const res = await postDecision(session, c.t, ticket.id, 'approve', { csrf });
      expect(res.status).toBe(403);
      expect(await res.text()).toContain('You cannot approve your own request');
    }
    expect(await ticketStatus(c.t, ticket.id)).toBe('pending');
  });

  it('a user outside the approver groups gets the "not an approver" page and cannot decide', async () => {
    const ticket = await openTicket(c.t, c.requester);
    const outsider = await approver(c.t, 'outsider@example.com');
    const page = await ticketPage(outsider, c.t, ticket.id);
    expect(page.status).toBe(403);
    expect(page.html).toContain('You are not an approver for this request');
    expect(page.html).not.toContain('Hotfix for incident 42');
    const res = await postDecision(outsider, c.t, ticket.id, 'approve', {
      csrf: hiddenField(page.html, 'csrf'),
    });
    expect(res.status).toBe(403);
    expect(await ticketStatus(c.t, ticket.id)).toBe('pending');
  });

  it('an approval after the quorum was met changes nothing; the page shows the outcome without a form', async () => {
    const ticket = await openTicket(c.t, c.requester);
    const lead = await approver(c.t, 'lead@example.com');
    const sre = await approver(c.t, 'sre@example.com');
    const sreToken = hiddenField((await ticketPage(sre, c.t, ticket.id)).html, 'csrf');
    await postDecision(lead, c.t, ticket.id, 'approve');
    const late = await postDecision(sre, c.t, ticket.id, 'deny', { csrf: sreToken });
    expect(late.status).toBe(303);
    expect(late.headers.get('location')).toBe(`/approvals/${ticket.id}?done=closed`);
    const page = await ticketPage(sre, c.t, ticket.id, '?done=closed');
    expect(page.status).toBe(200);
    expect(page.html).toContain('already closed; your decision was not recorded');
    expect(page.html).toContain('data-status="approved"');
    expect(page.html).not.toContain('id="decide"');
    expect(await ticketStatus(c.t, ticket.id)).toBe('approved');
    expect(await elevationCount(c.t, ticket.id)).toBe(1);
  });

  it('two approvers approving at the same moment produce exactly one elevation', async () => {
    for (let round = 0; round < 3; round++) {
      const ticket = await openTicket(c.t, c.requester);
      const [lead, sre] = [
        await approver(c.t, 'lead@example.com'),
        await approver(c.t, 'sre@example.com'),
      ];
      const tokens = await Promise.all(
        [lead, sre].map(async (b) =>
          hiddenField((await ticketPage(b, c.t, ticket.id)).html, 'csrf'),
        ),
      );
      const results = await Promise.all([
        postDecision(lead, c.t, ticket.id, 'approve', { csrf: tokens[0] }),
        postDecision(sre, c.t, ticket.id, 'approve', { csrf: tokens[1] }),
      ]);
      expect(results.map((r) => r.status)).toEqual([303, 303]);
      expect(
        results
          .map((r) => new URL(r.headers.get('location')!, c.t.url).searchParams.get('done'))
          .sort(),
      ).toEqual(['approve', 'closed']);
      expect(await ticketStatus(c.t, ticket.id)).toBe('approved');
      expect(await elevationCount(c.t, ticket.id)).toBe(1);
    }
  });

  it('an unknown or malformed ticket id is a 404 page', async () => {
    const lead = await approver(c.t, 'lead@example.com');
    for (const id of ['00000000-0000-0000-0000-000000000000', 'no%20such%3Cticket%3E']) {
      const page = await ticketPage(lead, c.t, id);
      expect(page.status).toBe(404);
      expect(page.html).toContain('ticket not found');
    }
  });

  it('a ticket past its expiry shows as expired, offers no form, and a late decision records nothing', async () => {
    const ticket = await openTicket(c.t, c.requester);
    const lead = await approver(c.t, 'lead@example.com');
    const csrf = hiddenField((await ticketPage(lead, c.t, ticket.id)).html, 'csrf');
    await c.t.server.db.db
      .updateTable('elevation_ticket')
      .set({ expires_at: new Date(Date.now() - 1000) })
      .where('id', '=', ticket.id)
      .execute();
    const page = await ticketPage(lead, c.t, ticket.id);
    expect(page.status).toBe(200);
    expect(page.html).toContain('data-status="expired"');
    expect(page.html).toMatch(/id="time-left">expired/);
    expect(page.html).not.toContain('id="decide"');
    const res = await postDecision(lead, c.t, ticket.id, 'approve', { csrf });
    expect(res.headers.get('location')).toBe(`/approvals/${ticket.id}?done=closed`);
    expect(await ticketStatus(c.t, ticket.id)).toBe('expired');
    expect(await elevationCount(c.t, ticket.id)).toBe(0);
  });
});
