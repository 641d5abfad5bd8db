import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { databaseKinds } from '../helpers/databases.ts';
import { MCP_RESOURCE, problem, startAdminFixture, type AdminFixture } from './fixture.ts';

type Ticket = {
  id: string;
  status: string;
  requesterId: string | null;
  subject: string;
  clientId: string;
  scopes: string[];
  resource: string;
  justification: string;
  channel: string;
  decidedAt: string | null;
  elevationId: string | null;
};
type Decision = {
  approverId: string;
  decision: string;
  scopes: string[];
  comment: string;
  createdAt: string;
};
type Page<T> = { items: T[]; nextCursor: string | null };

describe.each(databaseKinds())('admin API: tickets (%s)', (kind) => {
  let f: AdminFixture;
  let token: string;
  let requesterId: string;
  let approverId: string;
  const tickets: Record<'pending' | 'denied' | 'cancelled', string> = {
    pending: '',
    denied: '',
    cancelled: '',
  };

  /** Opens a ticket for `mcp:deploy:production` (approval by tech-lead) as the senior developer. */
  async function open(justification: string): Promise<string> {
    const outcome = await f.t.server.elevation.request({
      principal: { kind: 'user', id: requesterId, roles: ['senior_developer'] },
      clientId: 'deploy-agent',
      scopes: ['mcp:deploy:production'],
      resource: MCP_RESOURCE,
      justification,
      channel: 'ciba',
      ref: randomUUID(),
    });
    if (outcome.status !== 'pending') throw new Error('expected an approval ticket');
    return outcome.ticket.id;
  }

  beforeAll(async () => {
    f = await startAdminFixture(kind);
    token = await f.token();
    const { users, elevation } = f.t.server;
    requesterId = (
      await users.create({
        email: 'senior@example.com',
        password: 'senior password 1',
        roles: ['senior_developer'],
      })
    ).id;
    approverId = (
      await users.create({
        email: 'lead@example.com',
        password: 'lead password 1',
        groups: ['tech-lead'],
      })
    ).id;
    tickets.denied = await open('hotfix for the outage');
    await elevation.decide(tickets.denied, approverId, 'deny', 'not during the freeze');
    tickets.cancelled = await open('changed my mind');
    await elevation.cancel(tickets.cancelled, requesterId);
    tickets.pending = await open('release 2.4.0');
  });
  afterAll(async () => f?.close());

  const list = async (qs: string) => {
    const res = await f.api('GET', `/tickets?${qs}`, { token });
    expect(res.status, await res.clone().text()).toBe(200);
    return (await res.json()) as Page<Ticket>;
  };

  it('lists tickets newest first and only those of the requested status', async () => {
    expect((await list(`requester=${requesterId}`)).items.map((t) => t.id)).toEqual([
      tickets.pending,
      tickets.cancelled,
      tickets.denied,
    ]);
    for (const status of ['pending', 'denied', 'cancelled'] as const) {
      const page = await list(`status=${status}&requester=${requesterId}`);
      expect(page.items.map((t) => [t.id, t.status])).toEqual([[tickets[status], status]]);
    }
    expect((await list('status=approved')).items).toEqual([]);
  });

  it('filters tickets by subject and client, and pages through them', async () => {
    expect((await list(`subject=${requesterId}&client=deploy-agent`)).items).toHaveLength(3);
    expect((await list(`subject=${requesterId}&client=someone-else`)).items).toEqual([]);
    const first = await list(`requester=${requesterId}&limit=2`);
    expect(first.items).toHaveLength(2);
    const second = await list(`requester=${requesterId}&limit=2&cursor=${first.nextCursor}`);
    expect(second).toEqual({
      items: [expect.objectContaining({ id: tickets.denied })],
      nextCursor: null,
    });
  });

  it('shows a ticket with the decisions made on it, and never the protocol reference', async () => {
    const res = await f.api('GET', `/tickets/${tickets.denied}`, { token });
    expect(res.status).toBe(200);
    const ticket = (await res.json()) as Ticket & { decisions: Decision[] };
    expect(ticket).toMatchObject({
      id: tickets.denied,
      status: 'denied',
      requesterId,
      subject: requesterId,
      clientId: 'deploy-agent',
      scopes: ['mcp:deploy:production'],
      resource: MCP_RESOURCE,
      justification: 'hotfix for the outage',
      channel: 'ciba',
      decidedAt: expect.any(String),
      elevationId: null,
    });
    expect(ticket.decisions).toEqual([
      {
        approverId,
        decision: 'deny',
        scopes: ['mcp:deploy:production'],
        comment: 'not during the freeze',
        createdAt: expect.any(String),
      },
    ]);
    expect(ticket).not.toHaveProperty('ref');
    const pending = (await (
      await f.api('GET', `/tickets/${tickets.pending}`, { token })
    ).json()) as { decisions: Decision[] };
    expect(pending.decisions).toEqual([]);
  });

  it('answers an unknown ticket with 404 and bad filters with 400 naming the field', async () => {
    const unknown = await f.api('GET', `/tickets/${randomUUID()}`, { token });
    expect(unknown.status).toBe(404);
    expect((await problem(unknown)).code).toBe('ERR_NOT_FOUND');
    for (const [qs, field] of [
      ['status=open', 'status'],
      ['requester=', 'requester'],
      ['cursor=Zm9v', 'cursor'],
    ]) {
      const res = await f.api('GET', `/tickets?${qs}`, { token });
      expect(res.status, qs).toBe(400);
      expect(
        (await problem(res)).errors!.map((e) => e.path),
        qs,
      ).toContain(field);
    }
  });
});
