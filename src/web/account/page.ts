import type Provider from 'oidc-provider';
import type { TicketRow } from '../../db/schema.ts';
import type { User, UserRepository } from '../../accounts/users.ts';
import type { ElevationAdminService } from '../../admin/services/elevations.ts';
import type { TicketAdminService } from '../../admin/services/tickets.ts';
import type { UserGrants } from '../../oidc/user-grants.ts';
import {
  cancellable,
  instant,
  noticeFor,
  presentAgent,
  presentDecisions,
  presentElevation,
  presentTicket,
  type AgentNames,
} from './present.ts';

/** Past requests shown: the newest ones. */
const HISTORY = 20;
/** Requests read per query; enough for a person's pending and recent ones. */
const REQUESTS_READ = 100;

/**
 * The user's passkeys as `PasskeyService.list` gives them (`passkeys/`, which builds on this
 * folder's session, so the shape is named here rather than imported).
 */
export interface PasskeyLister {
  list(userId: string): Promise<
    Array<{
      name: string;
      deviceType: 'singleDevice' | 'multiDevice';
      createdAt: Date;
      lastUsedAt: Date | null;
    }>
  >;
}

/** The services the account page reads through. */
export interface AccountReaders {
  users: UserRepository;
  provider: Provider;
  elevations: ElevationAdminService;
  tickets: TicketAdminService;
  grants: UserGrants;
  /** The user's passkeys (`PasskeyService.list`, as `/approvals/passkeys` shows them). */
  passkeys: PasskeyLister;
  now: () => Date;
}

/**
 * Everything `views/account.eta` shows for `user`: the admin services' listings narrowed to the
 * user (elevations of which they are the subject, requests they made or that were made for them,
 * their own grants), never anyone else's.
 */
export async function accountPage(r: AccountReaders, user: User, done: unknown) {
  const now = r.now();
  const [live, asRequester, asSubject, agents, passkeys] = await Promise.all([
    r.elevations.list({ subject: user.id, live: true, limit: 100 }),
    r.tickets.list({ requester: user.id, limit: REQUESTS_READ }),
    r.tickets.list({ subject: user.id, limit: REQUESTS_READ }),
    r.grants.list(user.id),
    r.passkeys.list(user.id),
  ]);
  // The requester rule (`ownTicket`): tickets they asked for, and those asked for them.
  const byId = new Map<string, TicketRow>();
  for (const t of [...asRequester.items, ...asSubject.items]) byId.set(t.id, t);
  const tickets = [...byId.values()].sort(
    (a, b) => new Date(b.created_at).getTime() - new Date(a.created_at).getTime(),
  );
  const pending = tickets.filter((t) => cancellable(t, now));
  const past = tickets.filter((t) => !cancellable(t, now)).slice(0, HISTORY);

  const clientIds = new Set([
    ...live.items.map((e) => e.client_id),
    ...tickets.map((t) => t.client_id),
    ...agents.map((a) => a.clientId),
  ]);
  const names = new Map<string, string>();
  for (const id of clientIds) names.set(id, await clientName(r.provider, id));
  const agentName: AgentNames = (id) => names.get(id) ?? id;

  const people = new Map<string, { email: string; name: string } | undefined>();
  const history = [];
  for (const t of past) {
    const { decisions } = await r.tickets.get(t.id);
    for (const d of decisions)
      if (!people.has(d.approver_id))
        people.set(d.approver_id, await r.users.findById(d.approver_id));
    history.push(presentTicket(t, now, agentName, presentDecisions(decisions, people)));
  }

  return {
    me: { email: user.email, name: user.name },
    notice: noticeFor(done),
    elevations: live.items.map((e) => presentElevation(e, now, agentName)),
    pending: pending.map((t) => presentTicket(t, now, agentName)),
    history,
    agents: agents.map((a) => presentAgent(a, agentName)),
    passkeys: passkeys.map((p) => ({
      name: p.name,
      kind: p.deviceType === 'multiDevice' ? 'synced passkey' : 'this device only',
      added: instant(p.createdAt),
      lastUsed: p.lastUsedAt ? instant(p.lastUsedAt) : null,
    })),
  };
}

async function clientName(provider: Provider, clientId: string): Promise<string> {
  try {
    const client = await provider.Client.find(clientId);
    return client?.clientName ?? clientId;
  } catch {
    // A client whose stored metadata no longer validates still has an id worth showing.
    return clientId;
  }
}
