import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { databaseKinds } from '../helpers/databases.ts';
import { hiddenField } from '../helpers/browser.ts';
import {
  PASSWORD,
  approver,
  elevationCount,
  openTicket,
  postDecision,
  scopesWithQuorum,
  startWithCast,
  ticketPage,
  ticketStatus,
  type Cast,
} from './fixture.ts';

const done = (res: Response) =>
  new URL(res.headers.get('location')!, 'http://x').searchParams.get('done');

describe.each(databaseKinds())('tickets needing two approvals (%s)', (kind) => {
  let c: Cast;
  let scopes: Awaited<ReturnType<typeof scopesWithQuorum>>;

  beforeAll(async () => {
    scopes = await scopesWithQuorum(2);
    c = await startWithCast(kind, { SCOPES_FILE: scopes.file });
    await c.t.server.users.create({
      email: 'lead2@example.com',
      password: PASSWORD,
      groups: ['tech-lead'],
    });
  });
  afterAll(async () => {
    await c?.t.close();
    await scopes?.remove();
  });

  it('one approval leaves the ticket pending; a second person approving it grants the elevation', async () => {
    const ticket = await openTicket(c.t, c.requester);
    const lead = await approver(c.t, 'lead@example.com');
    expect(done(await postDecision(lead, c.t, ticket.id, 'approve'))).toBe('approve');
    expect(await ticketStatus(c.t, ticket.id)).toBe('pending');
    expect(await elevationCount(c.t, ticket.id)).toBe(0);

    const page = await ticketPage(lead, c.t, ticket.id);
    expect(page.html).toContain('1 of 2');
    expect(page.html).not.toContain('id="decide"');
    const list = await (await lead.request(`${c.t.url}/approvals`)).text();
    expect(list).toContain('You approved; waiting for others');

    const sre = await approver(c.t, 'sre@example.com');
    const srePage = await ticketPage(sre, c.t, ticket.id);
    expect(srePage.html).toContain('id="decide"');
    expect(srePage.html).toContain('lead@example.com');
    expect(done(await postDecision(sre, c.t, ticket.id, 'approve'))).toBe('approve');
    expect(await ticketStatus(c.t, ticket.id)).toBe('approved');
    expect(await elevationCount(c.t, ticket.id)).toBe(1);
    expect((await ticketPage(sre, c.t, ticket.id)).html).toContain('2 of 2');
  });

  it('the same approver approving twice counts once', async () => {
    const ticket = await openTicket(c.t, c.requester);
    const lead = await approver(c.t, 'lead@example.com');
    const csrf = hiddenField((await ticketPage(lead, c.t, ticket.id)).html, 'csrf');
    expect(done(await postDecision(lead, c.t, ticket.id, 'approve', { csrf }))).toBe('approve');
    // A second sign-in of the same person is still the same person.
    const again = await approver(c.t, 'lead@example.com');
    const res = await postDecision(again, c.t, ticket.id, 'approve', {
      csrf: hiddenField((await ticketPage(again, c.t, ticket.id)).html, 'csrf'),
    });
    expect(done(res)).toBe('duplicate');
    expect((await ticketPage(again, c.t, ticket.id, '?done=duplicate')).html).toContain(
      'You have already decided on this request; nothing changed.',
    );
    expect(await ticketStatus(c.t, ticket.id)).toBe('pending');
    const decisions = await c.t.server.db.db
      .selectFrom('ticket_decision')
      .select('approver_id')
      .where('ticket_id', '=', ticket.id)
      .execute();
    expect(decisions).toHaveLength(1);
  });

  it('three approvers at the same moment: two approvals count, the third finds it closed, one elevation', async () => {
    const ticket = await openTicket(c.t, c.requester);
    const sessions = [
      await approver(c.t, 'lead@example.com'),
      await approver(c.t, 'lead2@example.com'),
      await approver(c.t, 'sre@example.com'),
    ];
    const tokens = await Promise.all(
      sessions.map(async (b) => hiddenField((await ticketPage(b, c.t, ticket.id)).html, 'csrf')),
    );
    const results = await Promise.all(
      sessions.map((b, i) => postDecision(b, c.t, ticket.id, 'approve', { csrf: tokens[i] })),
    );
    expect(results.map(done).sort()).toEqual(['approve', 'approve', 'closed']);
    expect(await ticketStatus(c.t, ticket.id)).toBe('approved');
    expect(await elevationCount(c.t, ticket.id)).toBe(1);
  });
});
