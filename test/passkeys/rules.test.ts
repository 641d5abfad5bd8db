import { describe, expect, it } from 'vitest';
import { DEFAULT_ROLES, buildRoleGraph, parseCatalogue } from '../../src/policy/index.ts';
import {
  PASSKEY_ASSERTION_MAX_AGE_SECONDS,
  decideTicket,
  passkeyRequired,
  type ApproverAuthentication,
  type PasskeyProof,
} from '../../src/elevation/rules/index.ts';

const NOW = new Date('2026-12-02T12:00:00Z');
const roles = buildRoleGraph(DEFAULT_ROLES);
const catalogue = parseCatalogue(
  {
    baseScopes: [],
    resources: {},
    scopes: {
      production: {
        description: 'needs a passkey',
        grants: [],
        minRole: 'senior_developer',
        expiresIn: 1800,
        approval: { groups: ['tech-lead'], quorum: 1, ttl: 900, requirePasskey: true },
      },
      staging: {
        description: 'approval without passkey',
        grants: [],
        minRole: 'developer',
        expiresIn: 1800,
        approval: { groups: ['tech-lead'], quorum: 1, ttl: 900 },
      },
      'mcp:admin': {
        description: 'admin',
        grants: [],
        minRole: 'admin',
        expiresIn: 900,
        approval: { groups: ['security-team'], quorum: 1, ttl: 900 },
      },
    },
  },
  roles.roles.keys(),
);

const proof = (over: Partial<PasskeyProof> = {}): PasskeyProof => ({
  passkeyId: 'pk-1',
  approverId: 'lead',
  ticketId: 't-1',
  decision: 'approve',
  issuedAt: new Date(NOW.getTime() - 10_000),
  userVerified: true,
  ...over,
});
const withPasskey = (p: PasskeyProof): ApproverAuthentication => ({
  amr: ['pwd', 'hwk', 'user'],
  passkey: p,
});

function decide(
  scopes: string[],
  authentication: ApproverAuthentication | undefined,
  extra: { decision?: 'approve' | 'deny'; groups?: string[]; passkeyScopes?: string[] } = {},
) {
  return decideTicket({
    catalogue,
    ticket: {
      status: 'pending',
      requesterId: 'dev',
      subject: 'dev',
      scopes,
      expiresAt: new Date(NOW.getTime() + 600_000),
    },
    ticketId: 't-1',
    approverId: 'lead',
    approverGroups: extra.groups ?? ['tech-lead', 'security-team'],
    decisions: [],
    decision: extra.decision ?? 'approve',
    now: NOW,
    authentication,
    passkeyScopes: extra.passkeyScopes,
  });
}

const REFUSED = { outcome: 'refused', reason: 'passkey_required' };

describe('passkey rule of approvals', () => {
  it('a scope needs a passkey by its catalogue flag, or because the server names it', () => {
    expect(passkeyRequired(catalogue, 'production')).toBe(true);
    expect(passkeyRequired(catalogue, 'staging')).toBe(false);
    expect(passkeyRequired(catalogue, 'mcp:admin')).toBe(false);
    expect(passkeyRequired(catalogue, 'mcp:admin', ['mcp:admin'])).toBe(true);
    expect(passkeyRequired(catalogue, 'toString')).toBe(false);
  });

  it.each<[string, ApproverAuthentication | undefined]>([
    ['no authentication stated', undefined],
    ['a password only', { amr: ['pwd'] }],
    ['amr claiming a key without a proof', { amr: ['pwd', 'hwk', 'user'] }],
    ['a proof for another ticket', withPasskey(proof({ ticketId: 't-2' }))],
    ['a proof for the other decision', withPasskey(proof({ decision: 'deny' }))],
    ['a proof issued to another approver', withPasskey(proof({ approverId: 'sre' }))],
    ['a proof without user verification', withPasskey(proof({ userVerified: false }))],
    [
      'a proof older than its window',
      withPasskey(
        proof({
          issuedAt: new Date(NOW.getTime() - (PASSKEY_ASSERTION_MAX_AGE_SECONDS + 1) * 1000),
        }),
      ),
    ],
  ])('an approval of a passkey scope is refused with %s', (_why, auth) => {
    expect(decide(['production'], auth)).toEqual(REFUSED);
  });

  it('an approval with a fresh proof bound to this ticket and decision is recorded', () => {
    expect(decide(['production'], withPasskey(proof()))).toEqual({
      outcome: 'recorded',
      scopes: ['production'],
      status: 'approved',
    });
  });

  it('a deny never needs a passkey', () => {
    expect(decide(['production'], { amr: ['pwd'] }, { decision: 'deny' })).toMatchObject({
      outcome: 'recorded',
      status: 'denied',
    });
  });

  it('scopes without the flag are approved with a password, as before', () => {
    expect(decide(['staging'], { amr: ['pwd'] })).toMatchObject({ status: 'approved' });
  });

  it('one passkey scope among those an approver decides on makes the whole approval need one', () => {
    expect(decide(['staging', 'production'], { amr: ['pwd'] })).toEqual(REFUSED);
  });

  it('mcp:admin needs a passkey only when the server says so (ADMIN_REQUIRE_PASSKEY)', () => {
    expect(decide(['mcp:admin'], { amr: ['pwd'] })).toMatchObject({ status: 'approved' });
    expect(decide(['mcp:admin'], { amr: ['pwd'] }, { passkeyScopes: ['mcp:admin'] })).toEqual(
      REFUSED,
    );
    expect(
      decide(['mcp:admin'], withPasskey(proof()), { passkeyScopes: ['mcp:admin'] }),
    ).toMatchObject({ status: 'approved' });
  });
});
