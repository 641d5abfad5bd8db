import { describe, expect, it } from 'vitest';
import { DEFAULT_ROLES, buildRoleGraph, parseCatalogue } from '../../src/policy/index.ts';
import {
  CLAIM_WINDOW_SECONDS,
  approvableScopes,
  bindToken,
  cibaRequestTtl,
  claimDeadline,
  decideTicket,
  elevationLifetime,
  firstIneligible,
  gate,
  quorumMet,
  staleGrantScopes,
  ticketExpiry,
  ticketOpen,
  ticketTtl,
  tokenExpiry,
  type Gate,
  type Ineligibility,
  type LiveElevation,
  type RecordedDecision,
  type TicketDecision,
  type TicketFacts,
  type TokenBinding,
} from '../../src/elevation/rules/index.ts';

const NOW = new Date('2025-01-15T12:00:00Z');
const NOW_S = NOW.getTime() / 1000;
const roles = buildRoleGraph(DEFAULT_ROLES);

/** Elevated scopes of every shape the rules tell apart. */
const catalogue = parseCatalogue(
  {
    baseScopes: ['read'],
    resources: {},
    scopes: {
      read: { description: 'base', grants: [] },
      other: { description: 'not elevated', grants: [] },
      staging: { description: 'auto', grants: [], minRole: 'developer', expiresIn: 3600 },
      pinned: { description: 'dpop', grants: [], minRole: 'developer', expiresIn: 600, dpop: true },
      long: { description: 'over the cap', grants: [], minRole: 'developer', expiresIn: 7200 },
      production: {
        description: 'one approval',
        grants: [],
        minRole: 'senior_developer',
        expiresIn: 1800,
        approval: { groups: ['tech-lead', 'sre-oncall'], quorum: 1, ttl: 900 },
      },
      root: {
        description: 'two approvals',
        grants: [],
        minRole: 'admin',
        expiresIn: 900,
        approval: { groups: ['security-team'], quorum: 2, ttl: 300 },
      },
    },
  },
  roles.roles.keys(),
);

describe('eligibility: every elevated scope needs its minRole', () => {
  it.each<[string, string[], string[], Ineligibility | undefined]>([
    ['a developer may hold staging', ['developer'], ['staging'], undefined],
    ['an admin inherits every role below it', ['admin'], ['staging', 'production'], undefined],
    ['scopes without minRole need no role', [], ['read', 'other', 'unknown'], undefined],
    [
      'a viewer is refused staging, naming developer',
      ['viewer'],
      ['staging'],
      { scope: 'staging', requiredRole: 'developer' },
    ],
    [
      'the first scope refused is named, in the order asked',
      ['developer'],
      ['staging', 'root', 'production'],
      { scope: 'root', requiredRole: 'admin' },
    ],
    [
      'a role name the graph does not know grants nothing',
      ['wizard'],
      ['staging'],
      { scope: 'staging', requiredRole: 'developer' },
    ],
  ])('%s', (_reason, principalRoles, scopes, expected) => {
    expect(firstIneligible({ catalogue, roles, principalRoles, scopes })).toEqual(expected);
  });
});

describe('gating: auto-grant, approval or a fresh sign-in first', () => {
  const fresh = NOW_S - 60;
  const stale = NOW_S - 301;
  it.each<[string, string[], number | undefined, Gate]>([
    ['base scopes are not elevation', ['read', 'openid'], stale, { outcome: 'not_elevated' }],
    [
      'an elevated scope without approval is granted at once',
      ['read', 'staging'],
      undefined,
      { outcome: 'auto_grant', elevated: ['staging'] },
    ],
    [
      'a stale sign-in does not matter when nothing needs approval',
      ['staging'],
      stale,
      { outcome: 'auto_grant', elevated: ['staging'] },
    ],
    [
      'an approval-gated scope opens a ticket for all its groups',
      ['staging', 'production'],
      fresh,
      {
        outcome: 'approval',
        elevated: ['staging', 'production'],
        gated: ['production'],
        groups: ['tech-lead', 'sre-oncall'],
      },
    ],
    [
      'groups of several gated scopes are joined, each once',
      ['root', 'production'],
      undefined,
      {
        outcome: 'approval',
        elevated: ['root', 'production'],
        gated: ['root', 'production'],
        groups: ['security-team', 'tech-lead', 'sre-oncall'],
      },
    ],
    [
      'an approval-gated scope after a sign-in over 5 minutes old needs a new sign-in',
      ['production'],
      stale,
      { outcome: 'sign_in_again', gated: ['production'] },
    ],
    [
      'exactly 5 minutes old is still fresh',
      ['production'],
      NOW_S - 300,
      {
        outcome: 'approval',
        elevated: ['production'],
        gated: ['production'],
        groups: ['tech-lead', 'sre-oncall'],
      },
    ],
  ])('%s', (_reason, scopes, authTime, expected) => {
    expect(gate({ catalogue, scopes, authTime, now: NOW })).toEqual(expected);
  });
});

describe('lifetimes', () => {
  it.each<[string, string[], number]>([
    ['an elevation lasts its scope expiresIn', ['staging'], 3600],
    ['several scopes: the shortest', ['staging', 'production', 'pinned'], 600],
    ['never longer than an hour, whatever the catalogue says', ['long'], 3600],
    ['no expiresIn at all: an hour', ['read'], 3600],
  ])('elevation: %s', (_reason, scopes, seconds) => {
    expect(elevationLifetime(catalogue, scopes)).toBe(seconds);
  });

  it.each<[string, string[], number]>([
    ['a ticket stays open for its scope ttl', ['production'], 900],
    ['several gated scopes: the shortest ttl', ['production', 'root'], 300],
    ['no approval ttl among them: the default 15 minutes', ['staging'], 900],
  ])('ticket: %s', (_reason, scopes, seconds) => {
    expect(ticketTtl(catalogue, scopes)).toBe(seconds);
  });

  it.each<[string, string[], number]>([
    ['a CIBA request lives as long as the ticket it may open', ['openid', 'root'], 300],
    ['a CIBA request opening no ticket lives 5 minutes', ['openid', 'staging'], 300],
    ['an approval-gated one with the default ttl', ['production'], 900],
  ])('CIBA request: %s', (_reason, scopes, seconds) => {
    expect(cibaRequestTtl(catalogue, scopes)).toBe(seconds);
  });

  it('dates a ticket expiry and a claim deadline from the clock passed in', () => {
    expect(ticketExpiry(catalogue, ['root'], NOW)).toEqual(new Date('2025-01-15T12:05:00Z'));
    expect(claimDeadline(NOW).getTime() - NOW.getTime()).toBe(CLAIM_WINDOW_SECONDS * 1000);
  });
});

describe('token binding: elevated scopes only from a live elevation of the grant', () => {
  const elevation = (
    id: string,
    scopes: string[],
    lifetime = 3600,
    expiresAt: Date | null = null,
  ): LiveElevation => ({ id, scopes, lifetime, expiresAt });
  const base = { catalogue, kind: 'AccessToken', dpopBound: false };
  it.each<[string, Partial<Parameters<typeof bindToken>[0]>, TokenBinding]>([
    [
      'a token without elevated scopes is left as it is',
      { scopes: ['read', 'other'], live: [] },
      { scopes: ['read', 'other'] },
    ],
    [
      'without a live elevation elevated scopes are dropped, base scopes stay',
      { scopes: ['read', 'staging'], live: [] },
      { scopes: ['read'] },
    ],
    [
      'client_credentials never carries elevated scopes, even with a live elevation',
      {
        kind: 'ClientCredentials',
        scopes: ['read', 'staging'],
        live: [elevation('e1', ['staging'])],
      },
      { scopes: ['read'] },
    ],
    [
      'a covering elevation keeps the scope and bounds the token by the scope lifetime',
      { scopes: ['read', 'staging'], live: [elevation('e1', ['staging'])] },
      { scopes: ['read', 'staging'], elevation: { id: 'e1', lifetime: 3600, expiresAt: null } },
    ],
    [
      'the elevation lifetime caps a longer scope lifetime',
      { scopes: ['staging'], live: [elevation('e1', ['staging'], 1200)] },
      { scopes: ['staging'], elevation: { id: 'e1', lifetime: 1200, expiresAt: null } },
    ],
    [
      'a DPoP-only scope is dropped from a bearer token',
      { scopes: ['read', 'pinned'], live: [elevation('e1', ['pinned'])] },
      { scopes: ['read'] },
    ],
    [
      'a DPoP-only scope stays in a DPoP-bound token, for its own lifetime',
      { scopes: ['read', 'pinned'], dpopBound: true, live: [elevation('e1', ['pinned'])] },
      { scopes: ['read', 'pinned'], elevation: { id: 'e1', lifetime: 600, expiresAt: null } },
    ],
    [
      'the elevation covering the most wins; a scope it does not cover is dropped',
      {
        scopes: ['staging', 'production'],
        live: [elevation('small', ['staging']), elevation('big', ['staging', 'production'])],
      },
      {
        scopes: ['staging', 'production'],
        elevation: { id: 'big', lifetime: 1800, expiresAt: null },
      },
    ],
    [
      'among equal covers the newest (listed first) wins, with its window',
      {
        scopes: ['staging'],
        live: [
          elevation('newer', ['staging'], 3600, new Date('2025-01-15T12:30:00Z')),
          elevation('older', ['staging']),
        ],
      },
      {
        scopes: ['staging'],
        elevation: { id: 'newer', lifetime: 3600, expiresAt: new Date('2025-01-15T12:30:00Z') },
      },
    ],
  ])('%s', (_reason, input, expected) => {
    expect(bindToken({ ...base, scopes: [], live: [], ...input })).toEqual(expected);
  });

  it.each<[string, number, number, Date, number]>([
    ['a first token lives its lifetime', NOW_S, 600, new Date((NOW_S + 600) * 1000), NOW_S + 600],
    [
      'a later token never outlives the window its first token started',
      NOW_S,
      600,
      new Date((NOW_S + 120) * 1000),
      NOW_S + 120,
    ],
    ['a shorter lifetime ends it sooner', NOW_S, 60, new Date((NOW_S + 600) * 1000), NOW_S + 60],
  ])('expiry: %s', (_reason, iat, lifetime, windowEnd, exp) => {
    expect(tokenExpiry(iat, lifetime, windowEnd)).toBe(exp);
  });

  it.each<[string, string[], string[][], string[]]>([
    ['a grant keeps what live elevations cover', ['read', 'staging'], [['staging']], []],
    [
      'an ended elevation makes its scopes stale',
      ['read', 'staging', 'production'],
      [['staging']],
      ['production'],
    ],
    ['base scopes are never stale', ['read', 'other'], [], []],
  ])('stored grant: %s', (_reason, scopes, live, stale) => {
    expect(
      staleGrantScopes(
        catalogue,
        scopes,
        live.map((s) => ({ scopes: s })),
      ),
    ).toEqual(stale);
  });
});

describe('tickets: who may decide, quorum, and the outcome of a decision', () => {
  const ticket = (over: Partial<TicketFacts> = {}): TicketFacts => ({
    status: 'pending',
    requesterId: 'requester',
    subject: 'requester',
    scopes: ['staging', 'production'],
    expiresAt: new Date(NOW.getTime() + 60_000),
    ...over,
  });
  const approve = (approverId: string, scopes: string[]): RecordedDecision => ({
    approverId,
    decision: 'approve',
    scopes,
  });

  it.each<[string, string[], string[], string[]]>([
    [
      'a member of any approval group may approve the gated scope',
      ['staging', 'production'],
      ['sre-oncall'],
      ['production'],
    ],
    ['someone in no approval group may approve nothing', ['production'], ['developers'], []],
    ['each gated scope by its own groups', ['production', 'root'], ['security-team'], ['root']],
  ])('approvable: %s', (_reason, scopes, groups, expected) => {
    expect(approvableScopes(catalogue, scopes, groups)).toEqual(expected);
  });

  it.each<[string, string[], RecordedDecision[], boolean]>([
    ['one approval meets a quorum of one', ['production'], [approve('a', ['production'])], true],
    ['no approval yet', ['production'], [], false],
    ['a quorum of two needs two people', ['root'], [approve('a', ['root'])], false],
    [
      'the same person twice counts once',
      ['root'],
      [approve('a', ['root']), approve('a', ['root'])],
      false,
    ],
    [
      'two people meet a quorum of two',
      ['root'],
      [approve('a', ['root']), approve('b', ['root'])],
      true,
    ],
    [
      'every gated scope must be satisfied',
      ['production', 'root'],
      [approve('a', ['root']), approve('b', ['root'])],
      false,
    ],
    [
      'an approval counts only for the scopes it was made for',
      ['production'],
      [approve('a', ['root'])],
      false,
    ],
    [
      'denials never count',
      ['production'],
      [{ approverId: 'a', decision: 'deny', scopes: ['production'] }],
      false,
    ],
  ])('quorum: %s', (_reason, scopes, decisions, met) => {
    expect(quorumMet(catalogue, scopes, decisions)).toBe(met);
  });

  it.each<[string, Partial<TicketFacts>, boolean]>([
    ['pending inside its window is open', {}, true],
    ['pending at its expiry instant is closed', { expiresAt: NOW }, false],
    ['decided is closed', { status: 'approved' }, false],
  ])('open: %s', (_reason, over, open) => {
    expect(ticketOpen(ticket(over), NOW)).toBe(open);
  });

  it.each<
    [
      string,
      {
        ticket?: Partial<TicketFacts>;
        approverId?: string;
        groups?: string[];
        decisions?: RecordedDecision[];
        decision?: 'approve' | 'deny';
      },
      TicketDecision,
    ]
  >([
    [
      'an approver of the gated scope approves it: quorum of one met',
      {},
      { outcome: 'recorded', scopes: ['production'], status: 'approved' },
    ],
    [
      'one deny denies',
      { decision: 'deny' },
      { outcome: 'recorded', scopes: ['production'], status: 'denied' },
    ],
    [
      'a first approval of a quorum of two keeps it pending',
      { ticket: { scopes: ['root'] }, groups: ['security-team'] },
      { outcome: 'recorded', scopes: ['root'], status: 'pending' },
    ],
    [
      'the second distinct approval approves it',
      {
        ticket: { scopes: ['root'] },
        groups: ['security-team'],
        decisions: [approve('first', ['root'])],
      },
      { outcome: 'recorded', scopes: ['root'], status: 'approved' },
    ],
    [
      'a closed ticket takes no decision',
      { ticket: { status: 'denied' } },
      { outcome: 'refused', reason: 'ticket_closed' },
    ],
    [
      'the requester cannot decide',
      { approverId: 'requester' },
      { outcome: 'refused', reason: 'self_approval' },
    ],
    [
      'nor the user an agent acts for',
      { ticket: { requesterId: null, subject: 'user' }, approverId: 'user' },
      { outcome: 'refused', reason: 'self_approval' },
    ],
    [
      'self-approval is refused before expiry is looked at',
      { ticket: { expiresAt: NOW }, approverId: 'requester' },
      { outcome: 'refused', reason: 'self_approval' },
    ],
    [
      'a decision at or after the expiry closes the ticket as expired',
      { ticket: { expiresAt: NOW } },
      { outcome: 'expired' },
    ],
    [
      'expiry wins over not being an approver',
      { ticket: { expiresAt: NOW }, groups: [] },
      { outcome: 'expired' },
    ],
    [
      'someone outside the approval groups cannot decide',
      { groups: ['developers'] },
      { outcome: 'refused', reason: 'not_an_approver' },
    ],
    [
      'an approver decides once',
      { decisions: [{ approverId: 'lead', decision: 'approve', scopes: ['root'] }] },
      { outcome: 'refused', reason: 'already_decided' },
    ],
  ])('decision: %s', (_reason, input, expected) => {
    expect(
      decideTicket({
        catalogue,
        ticket: ticket(input.ticket),
        approverId: input.approverId ?? 'lead',
        approverGroups: input.groups ?? ['tech-lead'],
        decisions: input.decisions ?? [],
        decision: input.decision ?? 'approve',
        now: NOW,
      }),
    ).toEqual(expected);
  });
});
