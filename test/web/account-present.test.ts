import { describe, expect, it } from 'vitest';
import type { TicketRow } from '../../src/db/schema.ts';
import type { ElevationRecord } from '../../src/admin/services/elevations.ts';
import {
  instant,
  noticeFor,
  presentElevation,
  presentTicket,
} from '../../src/web/account/present.ts';

const NOW = new Date('2026-11-30T03:00:00Z');
const name = (id: string) => (id === 'agent' ? 'Deploy bot' : id);

function elevation(over: Partial<ElevationRecord> = {}): ElevationRecord {
  return {
    id: 'e1',
    subject: 'u1',
    client_id: 'agent',
    scopes: ['mcp:deploy:staging'],
    resource: 'http://localhost:4000/mcp',
    ticket_id: null,
    created_at: new Date('2026-11-30T02:50:00Z'),
    lifetime: 3600,
    claim_by: new Date('2026-11-30T03:05:00Z'),
    expires_at: new Date('2026-11-30T03:12:30Z'),
    revoked_at: null,
    revoked_by: null,
    revoke_seq: null,
    grant_id: 'g1',
    state: 'live',
    ...over,
  };
}

function ticket(over: Partial<TicketRow> = {}): TicketRow {
  return {
    id: 't1',
    status: 'pending',
    requester_id: 'u1',
    client_id: 'agent',
    subject: 'u1',
    scopes: ['mcp:deploy:production'],
    resource: 'http://localhost:4000/mcp',
    justification: 'INC-42',
    tool_call: null,
    channel: 'ciba',
    ref: 'r',
    created_at: new Date('2026-11-30T02:58:00Z'),
    expires_at: new Date('2026-11-30T03:13:00Z'),
    decided_at: null,
    elevation_id: null,
    ...over,
  };
}

describe('what the account page shows', () => {
  it('writes an instant as ISO 8601 for the machine and minute-precision UTC for people', () => {
    expect(instant(new Date('2026-11-30T03:12:45.123Z'))).toEqual({
      iso: '2026-11-30T03:12:45.123Z',
      utc: '2026-11-30 03:12 UTC',
    });
  });

  it('gives a claimed elevation its time left, rounded down, and an unused one its lifetime from first use', () => {
    expect(presentElevation(elevation(), NOW, name)).toMatchObject({
      timeLeft: '12 minutes left',
      until: { utc: '2026-11-30 03:12 UTC' },
      agent: { id: 'agent', name: 'Deploy bot' },
      badge: { text: 'Live' },
    });
    expect(presentElevation(elevation({ expires_at: null }), NOW, name)).toMatchObject({
      timeLeft: 'not used yet; 1 hour from first use',
      until: null,
      badge: { text: 'Unused' },
    });
  });

  it('shows a pending request past its expiry as expired before the sweep closes it', () => {
    expect(presentTicket(ticket(), NOW, name)).toMatchObject({
      timeLeft: '13 minutes left',
      badge: { text: 'Pending', tone: 'wait' },
    });
    const late = presentTicket(ticket({ expires_at: new Date('2026-11-30T02:59:00Z') }), NOW, name);
    expect(late).toMatchObject({ timeLeft: null, badge: { text: 'Expired', tone: 'done' } });
  });

  it('badges every outcome with its own text', () => {
    const texts = (['approved', 'denied', 'expired', 'cancelled'] as const).map(
      (status) => presentTicket(ticket({ status }), NOW, name).badge,
    );
    expect(texts).toEqual([
      { text: 'Approved', tone: 'good' },
      { text: 'Denied', tone: 'bad' },
      { text: 'Expired', tone: 'done' },
      { text: 'Cancelled', tone: 'done' },
    ]);
  });

  it('shows only its own fixed notices, never text from the request', () => {
    expect(noticeFor('dropped')).toMatch(/^The elevation was dropped/);
    expect(noticeFor('<script>')).toBeNull();
    expect(noticeFor('constructor')).toBeNull();
    expect(noticeFor(['dropped'])).toBeNull();
  });
});
