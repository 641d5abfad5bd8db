import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { databaseKinds } from '../helpers/databases.ts';
import type { AuditInput } from '../../src/audit/audit-log.ts';
import { problem, startAdminFixture, type AdminFixture } from './fixture.ts';

type Event = {
  seq: string;
  id: string;
  time: string;
  actor: string | null;
  action: string;
  result: string;
  subject: string | null;
  clientId: string | null;
  resource: string | null;
  data: Record<string, unknown>;
  prevHash: string;
  hash: string;
};
type Known = Required<
  Pick<
    AuditInput,
    'id' | 'action' | 'result' | 'actor' | 'subject' | 'clientId' | 'resource' | 'time'
  >
>;

const BASE = Date.parse('2031-03-01T00:00:00.000Z');
const minutes = (n: number) => new Date(BASE + n * 60_000);
const ACTIONS = [
  'ticket.opened',
  'ticket.approved',
  'ticket.denied',
  'elevation.granted',
  'tool.call',
];

/** 30 events spread over every filtered column, plus two whose actions differ only where LIKE has a wildcard. */
function knownEvents(resource: string): Known[] {
  const events: Known[] = Array.from({ length: 30 }, (_, i) => ({
    id: randomUUID(),
    action: ACTIONS[i % 5]!,
    result: ['success', 'failure', 'denied'][i % 3]!,
    actor: i % 2 ? 'alice' : 'bob',
    subject: `user-${i % 4}`,
    clientId: i % 3 === 0 ? 'agent-a' : 'agent-b',
    resource,
    time: minutes(i),
  }));
  for (const [n, action] of ['odd_x.one', 'oddyx.two'].entries()) {
    events.push({
      id: randomUUID(),
      action,
      result: 'success',
      actor: 'carol',
      subject: 'user-9',
      clientId: 'agent-c',
      resource,
      time: minutes(40 + n),
    });
  }
  return events;
}

describe.each(databaseKinds())('admin API: audit query and export (%s)', (kind) => {
  let f: AdminFixture;
  let token: string;
  const resource = `urn:test:${randomUUID()}`;
  const known = knownEvents(resource);

  beforeAll(async () => {
    f = await startAdminFixture(kind);
    token = await f.token();
    await f.t.server.audit.append(...known);
  });
  afterAll(async () => f?.close());

  const get = async (path: string) => {
    const res = await f.api('GET', path, { token });
    expect(res.status, `${path}: ${res.status === 200 ? '' : await res.clone().text()}`).toBe(200);
    return res;
  };

  /** Every event of a query, read `limit` at a time by following nextCursor. */
  async function pageThrough(
    query: Record<string, string>,
    limit: number,
  ): Promise<{ events: Event[]; pages: number }> {
    const events: Event[] = [];
    let pages = 0;
    let cursor: string | null = null;
    do {
      const qs = new URLSearchParams({
        resource,
        ...query,
        limit: String(limit),
        ...(cursor ? { cursor } : {}),
      });
      const page = (await (await get(`/audit?${qs}`)).json()) as {
        items: Event[];
        nextCursor: string | null;
      };
      expect(page.items.length).toBeLessThanOrEqual(limit);
      events.push(...page.items);
      cursor = page.nextCursor;
      pages++;
    } while (cursor);
    return { events, pages };
  }

  async function exportLines(query: Record<string, string>): Promise<Event[]> {
    const res = await get(`/audit/export?${new URLSearchParams(query)}`);
    expect(res.headers.get('content-type')).toMatch(/^application\/x-ndjson/);
    expect(res.headers.get('cache-control')).toBe('no-store');
    const text = await res.text();
    expect(text === '' || text.endsWith('\n')).toBe(true);
    return text
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l) as Event);
  }

  const cases: Array<[string, Record<string, string>, (e: Known) => boolean]> = [
    ['no other filter', {}, () => true],
    ['an action prefix', { action: 'ticket.*' }, (e) => e.action.startsWith('ticket.')],
    ['an exact action', { action: 'tool.call' }, (e) => e.action === 'tool.call'],
    [
      'a prefix holding a LIKE wildcard, matched literally',
      { action: 'odd_x.*' },
      (e) => e.action === 'odd_x.one',
    ],
    ['the actor', { actor: 'alice' }, (e) => e.actor === 'alice'],
    ['the result', { result: 'denied' }, (e) => e.result === 'denied'],
    ['the subject', { subject: 'user-1' }, (e) => e.subject === 'user-1'],
    ['the client', { client: 'agent-a' }, (e) => e.clientId === 'agent-a'],
    [
      'a time window (from inclusive, to exclusive)',
      { from: minutes(5).toISOString(), to: '2031-03-01T01:12:00+01:00' },
      (e) => e.time >= minutes(5) && e.time < minutes(12),
    ],
    [
      'several filters at once',
      { actor: 'alice', action: 'ticket.*', result: 'success' },
      (e) => e.actor === 'alice' && e.action.startsWith('ticket.') && e.result === 'success',
    ],
  ];

  it.each(cases)(
    'pages through the events selected by %s, newest first, without duplicates or gaps',
    async (_name, query, selects) => {
      const expected = known
        .filter(selects)
        .map((e) => e.id)
        .reverse();
      expect(expected.length).toBeGreaterThan(0);
      const { events, pages } = await pageThrough(query, 4);
      expect(events.map((e) => e.id)).toEqual(expected);
      expect(new Set(events.map((e) => e.seq)).size).toBe(events.length);
      expect(pages).toBe(Math.max(1, Math.ceil(expected.length / 4)));
    },
  );

  it('pages oldest first with order=asc, and each event carries its place in the hash chain', async () => {
    const { events } = await pageThrough({ order: 'asc' }, 7);
    expect(events.map((e) => e.id)).toEqual(known.map((e) => e.id));
    const seqs = events.map((e) => BigInt(e.seq));
    expect(seqs.every((s, i) => i === 0 || s > seqs[i - 1]!)).toBe(true);
    expect(events[0]).toMatchObject({
      actor: 'bob',
      action: 'ticket.opened',
      result: 'success',
      subject: 'user-0',
      clientId: 'agent-a',
      resource,
      time: minutes(0).toISOString(),
      data: {},
    });
    for (const e of events) {
      expect(e.hash).toMatch(/^[0-9a-f]{64}$/);
      expect(e.prevHash).toMatch(/^[0-9a-f]{64}$/);
    }
  });

  it('answers bad filter values with 400 naming the field', async () => {
    const bad: Array<[string, string]> = [
      ['result=maybe', 'result'],
      ['from=yesterday', 'from'],
      ['to=2031-03-01T00:00:00', 'to'],
      ['action=ticket*', 'action'],
      ['limit=0', 'limit'],
      ['limit=201', 'limit'],
      ['order=sideways', 'order'],
      ['colour=red', 'colour'],
      [`from=${minutes(9).toISOString()}&to=${minutes(3).toISOString()}`, 'to'],
      ['cursor=not-a-cursor', 'cursor'],
    ];
    for (const [qs, field] of bad) {
      const res = await f.api('GET', `/audit?${qs}`, { token });
      expect(res.status, qs).toBe(400);
      const body = await problem(res);
      expect(body.code).toBe('ERR_VALIDATION');
      expect(
        body.errors!.map((e) => e.path),
        qs,
      ).toContain(field);
    }
    const exportRes = await f.api('GET', '/audit/export?result=maybe', { token });
    expect(exportRes.status).toBe(400);
    expect((await problem(exportRes)).errors!.map((e) => e.path)).toEqual(['result']);
  });

  it('refuses a cursor made for the other order', async () => {
    const first = (await (
      await get(`/audit?resource=${encodeURIComponent(resource)}&order=asc&limit=2`)
    ).json()) as { nextCursor: string };
    const res = await f.api(
      'GET',
      `/audit?resource=${encodeURIComponent(resource)}&limit=2&cursor=${first.nextCursor}`,
      { token },
    );
    expect(res.status).toBe(400);
    expect((await problem(res)).errors).toEqual([
      { path: 'cursor', message: 'not a cursor returned by this API' },
    ]);
  });

  it('exports the events a filter selects as NDJSON, oldest first, as many as the query pages through', async () => {
    for (const [, query, selects] of cases) {
      const lines = await exportLines({ resource, ...query });
      expect(lines.map((e) => e.id)).toEqual(known.filter(selects).map((e) => e.id));
      expect(lines.length).toBe((await pageThrough(query, 50)).events.length);
    }
    expect(await exportLines({ resource, actor: 'nobody' })).toEqual([]);
  });

  it('exports more events than one database read holds, each once and in order', async () => {
    const bulk = `urn:test:bulk-${randomUUID()}`;
    await f.t.server.audit.append(
      ...Array.from({ length: 1234 }, (_, i) => ({
        action: 'bulk.event',
        result: 'success',
        resource: bulk,
        data: { i },
      })),
    );
    const lines = await exportLines({ resource: bulk });
    expect(lines.map((e) => e.data.i)).toEqual(Array.from({ length: 1234 }, (_, i) => i));
    expect(new Set(lines.map((e) => e.seq)).size).toBe(1234);
  });

  it('exports the whole log as one unbroken hash chain, as long as verification counts it', async () => {
    const lines = await exportLines({});
    for (let i = 1; i < lines.length; i++)
      expect(lines[i]!.prevHash, `seq ${lines[i]!.seq}`).toBe(lines[i - 1]!.hash);
    expect(lines[0]!.prevHash).toBe('0'.repeat(64));
    const verification = (await (await get('/audit/verify')).json()) as {
      ok: boolean;
      count: number;
    };
    expect(verification).toMatchObject({ ok: true, count: lines.length });
  });
});
