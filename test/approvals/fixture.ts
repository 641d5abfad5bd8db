import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TicketRow } from '../../src/db/schema.ts';
import { HttpBrowser, hiddenField } from '../helpers/browser.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

/** Everyone's password in these tests. */
export const PASSWORD = 'approver password';
/** The example MCP server's resource (in scopes.json). */
export const RESOURCE = 'http://localhost:4000/mcp';
/** The approval-gated scope the tickets ask for. */
export const PRODUCTION = 'mcp:deploy:production';

/** The people of the approval tests; the requester is a tech lead too, so only the self rule stops them. */
export interface Cast {
  t: TestServer;
  requester: string;
  lead: string;
  sre: string;
  outsider: string;
}

/** A server with a requester and approvers (tech-lead, sre-oncall) and a non-member. */
export async function startWithCast(
  kind: 'pglite' | 'postgres',
  env: Record<string, string> = {},
): Promise<Cast> {
  const t = await startTestServer(kind, env);
  const create = async (email: string, name: string, roles: string[], groups: string[]) =>
    (await t.server.users.create({ email, name, password: PASSWORD, roles, groups })).id;
  return {
    t,
    requester: await create(
      'dev@example.com',
      'Dana Developer',
      ['senior_developer'],
      ['tech-lead'],
    ),
    lead: await create('lead@example.com', 'Lee Lead', ['developer'], ['tech-lead']),
    sre: await create('sre@example.com', 'Sam Oncall', ['developer'], ['sre-oncall']),
    outsider: await create('outsider@example.com', 'Otto Outsider', ['developer'], []),
  };
}

/** Opens a production-deploy ticket for `requesterId` (as an agent would over CIBA). */
export async function openTicket(
  t: TestServer,
  requesterId: string,
  justification = 'Hotfix for incident 42',
  toolCall?: { tool: string; argumentsSha256: string },
): Promise<TicketRow> {
  const outcome = await t.server.elevation.request({
    principal: { kind: 'user', id: requesterId, roles: ['senior_developer'] },
    clientId: 'agent',
    scopes: [PRODUCTION],
    resource: RESOURCE,
    justification,
    toolCall,
    channel: 'ciba',
    ref: 'test-ref',
  });
  if (outcome.status !== 'pending') throw new Error('expected a pending ticket');
  return outcome.ticket;
}

/** Signs in through the approver login form over real HTTP; returns the browser holding the session cookie. */
export async function signIn(
  t: TestServer,
  email: string,
  password = PASSWORD,
  next = '/approvals',
): Promise<{ browser: HttpBrowser; res: Response }> {
  const browser = new HttpBrowser();
  const page = await browser.request(`${t.url}/login?next=${encodeURIComponent(next)}`);
  const csrf = hiddenField(await page.text(), 'csrf');
  const res = await browser.request(`${t.url}/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ csrf, next, email, password }),
  });
  return { browser, res };
}

/** Signs in and expects success. */
export async function approver(t: TestServer, email: string): Promise<HttpBrowser> {
  const { browser, res } = await signIn(t, email);
  if (res.status !== 303) throw new Error(`sign-in of ${email} failed with ${res.status}`);
  return browser;
}

/** GETs the ticket page: status and HTML. */
export async function ticketPage(
  b: HttpBrowser,
  t: TestServer,
  id: string,
  query = '',
): Promise<{ status: number; html: string; res: Response }> {
  const res = await b.request(`${t.url}/approvals/${id}${query}`);
  return { status: res.status, html: await res.text(), res };
}

/** Posts a decision; `csrf` defaults to the token on the ticket page of this session. */
export async function postDecision(
  b: HttpBrowser,
  t: TestServer,
  id: string,
  decision: string,
  opts: { csrf?: string | null; comment?: string } = {},
): Promise<Response> {
  let csrf = opts.csrf;
  if (csrf === undefined) csrf = hiddenField((await ticketPage(b, t, id)).html, 'csrf');
  const fields: Record<string, string> = { decision, comment: opts.comment ?? '' };
  if (csrf !== null) fields.csrf = csrf;
  return b.request(`${t.url}/approvals/${id}/decision`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(fields),
  });
}

/** The ticket's status as stored. */
export async function ticketStatus(t: TestServer, id: string): Promise<string | undefined> {
  return (await t.server.elevation.ticket(id))?.status;
}

/** Elevations granted for a ticket: exactly one after approval, whatever the races. */
export async function elevationCount(t: TestServer, ticketId: string): Promise<number> {
  const rows = await t.server.db.db
    .selectFrom('elevation')
    .select('id')
    .where('ticket_id', '=', ticketId)
    .execute();
  return rows.length;
}

/** A copy of scopes.json where production deploys need `quorum` approvals; returns its path and a cleanup. */
export async function scopesWithQuorum(
  quorum: number,
): Promise<{ file: string; remove(): Promise<void> }> {
  const catalogue = JSON.parse(
    await readFile(new URL('../../scopes.json', import.meta.url), 'utf8'),
  );
  delete catalogue.$schema;
  catalogue.scopes[PRODUCTION].approval.quorum = quorum;
  const dir = await mkdtemp(join(tmpdir(), 'mcpe-scopes-'));
  const file = join(dir, 'scopes.json');
  await writeFile(file, JSON.stringify(catalogue));
  return { file, remove: () => rm(dir, { recursive: true, force: true }) };
}
