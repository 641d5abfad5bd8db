import Router from '@koa/router';
import type { Context } from 'koa';
import type { TicketRow } from '../db/schema.ts';
import type { ApprovalDeps } from './deps.ts';
import { ElevationError, ticketNotFound } from '../elevation/errors.ts';
import { render } from '../http/views.ts';
import { invalid, isAppError } from '../errors.ts';
import type { ApproverAuthentication } from '../elevation/service.ts';
import { PASSKEY_SCRIPTS } from '../passkeys/routes.ts';
import { DEFAULTS } from '../config/defaults.ts';
import {
  csrfRejected,
  signedInUser,
  redirectToLogin,
  sessionBinding,
  type SignedIn,
} from '../web/sign-in.ts';
import { pageHeaders } from '../web/page-headers.ts';
import { ApprovalQueries, asDate } from './tickets.ts';
import {
  NOTICES,
  REFUSALS,
  isOpen,
  outcome,
  presentDecisions,
  presentScopes,
  timeLeft,
} from './presenter.ts';
import { truncateCodePoints } from '../http/text.ts';
import { formBody } from '../http/form-body.ts';

export type { ApprovalDeps } from './deps.ts';

const TICKET_ID = /^[\w-]{1,64}$/;

/**
 * The approver web pages under `/approvals` (ARCHITECTURE.md §6): sign-in, my pending tickets, one ticket
 * with approve/deny (sign-in is the site's, `web/sign-in.ts`). Rules enforced:
 * - every page needs a web session (`web/session.ts`), else it sends the browser to sign in and
 *   back;
 * - the requester (or the user an agent acts for) never sees a decision form: 403;
 *   non-approvers: 403; both without any detail of the ticket;
 * - decision posts need the session's CSRF token and go through {@link ElevationService.decide},
 *   which alone applies quorum and race safety; the answer is a 303 back to the ticket page;
 * - approving a ticket whose scopes need a passkey takes a fresh assertion made for this ticket
 *   and this decision (`passkeys/`): the page runs the ceremony and posts it with the form; the
 *   service alone decides whether it is enough (`ERR_PASSKEY_REQUIRED`); denying never needs one;
 * - views escape everything; pages work without JavaScript, except a passkey ceremony.
 */
export function approvalRoutes(deps: ApprovalDeps): Router {
  const router = new Router({ prefix: '/approvals' });
  const form = formBody();
  const now = deps.currentDate ?? (() => new Date());
  const queries = new ApprovalQueries(deps.db, now);

  // Every approval page: nothing from elsewhere runs in, frames, or caches it.
  router.use(pageHeaders());

  router.get('/', async (ctx) => {
    const me = await signedInUser(deps, ctx);
    if (!me) return redirectToLogin(ctx, '/approvals');
    const groups = new Set(me.user.groups);
    const candidates = Object.entries(deps.catalogue.scopes)
      .filter(([, d]) => d.approval?.groups.some((g) => groups.has(g)))
      .map(([name]) => name);
    const tickets = [];
    // The query narrows by scope; the service's rule has the last word on each ticket.
    for (const p of await queries.pendingFor(me.user.id, candidates)) {
      if (!(await deps.elevation.approvableScopes(p.ticket, me.user.id)).length) continue;
      tickets.push({
        id: p.ticket.id,
        requester: p.requesterEmail ?? `${p.ticket.subject} (agent acting for itself)`,
        agent: { id: p.ticket.client_id, name: await agentName(deps, p.ticket.client_id) },
        scopes: p.ticket.scopes,
        timeLeft: timeLeft(p.ticket.expires_at, now().getTime()),
        myDecision: p.myDecision === 'approve' ? 'You approved; waiting for others' : null,
      });
    }
    ctx.body = render('approvals', { ...chrome(deps, me), tickets });
  });

  // A ticket page that runs a passkey ceremony: script files of this site only, never inline.
  const withScripts = pageHeaders({ scripts: true });

  router.get('/:id', async (ctx) => {
    const me = await signedInUser(deps, ctx);
    if (!me) return redirectToLogin(ctx, ctx.originalUrl);
    const ticket = await load(deps, ctx.params.id);
    const mine = await authorise(deps, ctx, me, ticket);
    if (!mine) return;
    const decisions = await queries.decisions(ticket.id);
    const requester = ticket.requester_id
      ? await deps.users.findById(ticket.requester_id)
      : undefined;
    const decided = decisions.some((d) => d.approverId === me.user.id);
    const done = String(ctx.query.done ?? '');
    // The form only while a decision by this approver can still change something.
    const open = isOpen(ticket, now().getTime()) && !decided;
    const passkey =
      open && deps.elevation.requiresPasskey(mine)
        ? {
            options: '/approvals/passkeys/approval-options',
            enrolled: (await deps.passkeys.list(me.user.id)).length > 0,
            scripts: PASSKEY_SCRIPTS,
          }
        : null;
    if (passkey) await withScripts(ctx, async () => {});
    ctx.body = render('approval', {
      ...chrome(deps, me),
      id: ticket.id,
      outcome: outcome(ticket, now().getTime()),
      requester: requester
        ? { email: requester.email, name: requester.name }
        : ticket.requester_id
          ? { email: '(deleted user)', name: '' }
          : null,
      subject: ticket.subject,
      agent: { id: ticket.client_id, name: await agentName(deps, ticket.client_id) },
      scopes: presentScopes(deps.catalogue, ticket, decisions, mine),
      resource: ticket.resource,
      justification: ticket.justification,
      toolCall: ticket.tool_call,
      created: asDate(ticket.created_at).toISOString(),
      expires: ticket.expires_at.toISOString(),
      timeLeft: timeLeft(ticket.expires_at, now().getTime()),
      decisions: presentDecisions(decisions),
      notice: Object.hasOwn(NOTICES, done) ? NOTICES[done as keyof typeof NOTICES] : null,
      form: open ? { action: `/approvals/${ticket.id}/decision`, passkey } : null,
    });
  });

  router.post('/:id/decision', form, async (ctx) => {
    const me = await signedInUser(deps, ctx);
    if (!me)
      return redirectToLogin(
        ctx,
        `/approvals/${TICKET_ID.test(ctx.params.id) ? ctx.params.id : ''}`,
      );
    const body = (ctx.request.body ?? {}) as Record<string, unknown>;
    if (!deps.csrf.verify(sessionBinding(me.session), body.csrf)) throw csrfRejected();
    const ticket = await load(deps, ctx.params.id);
    if (body.decision !== 'approve' && body.decision !== 'deny')
      throw invalid('Choose approve or deny.', { field: 'decision' });
    const comment =
      typeof body.comment === 'string'
        ? truncateCodePoints(body.comment.trim(), DEFAULTS.approvalCommentMaxCodePoints)
        : '';
    let notice: keyof typeof NOTICES = body.decision;
    try {
      // The session's sign-in, and a passkey assertion when the form carries one (its challenge
      // is consumed here, once, whatever the decision's outcome).
      let authentication: ApproverAuthentication = { amr: [me.session.method] };
      if (typeof body.assertion === 'string' && body.assertion)
        authentication = await deps.passkeys.verifyApproval(
          me.user.id,
          ticket.id,
          body.decision,
          body.assertion,
          authentication.amr,
        );
      await deps.elevation.decide(ticket.id, me.user.id, body.decision, comment, authentication);
    } catch (err) {
      if (isAppError(err, 'ERR_PASSKEY_INVALID'))
        return refuse(deps, ctx, me, 'passkeyFailed', err.message, ticket.id);
      if (!(err instanceof ElevationError)) throw err;
      switch (err.code) {
        case 'ERR_SELF_APPROVAL':
          return refuse(deps, ctx, me, 'self');
        case 'ERR_NOT_APPROVER':
          return refuse(deps, ctx, me, 'foreign');
        case 'ERR_PASSKEY_REQUIRED':
          return refuse(deps, ctx, me, 'passkey', undefined, ticket.id);
        // Someone else closed it first (quorum reached, denied, expired) or this is a second
        // click: nothing changed; the page says so and shows the outcome.
        case 'ERR_TICKET_CLOSED':
          notice = 'closed';
          break;
        case 'ERR_ALREADY_DECIDED':
          notice = 'duplicate';
          break;
        default:
          throw err;
      }
    }
    ctx.status = 303;
    ctx.redirect(`/approvals/${ticket.id}?done=${notice}`);
  });

  return router;
}

/** The ticket, or a 404 page (malformed ids never reach the database). */
async function load(deps: ApprovalDeps, id: string | undefined): Promise<TicketRow> {
  const ticket = id && TICKET_ID.test(id) ? await deps.elevation.ticket(id) : undefined;
  if (!ticket) throw ticketNotFound();
  return ticket;
}

/** The scopes this approver may decide on, or undefined after answering 403 (own request, not an approver). */
async function authorise(
  deps: ApprovalDeps,
  ctx: Context,
  me: SignedIn,
  ticket: TicketRow,
): Promise<string[] | undefined> {
  if (ticket.requester_id === me.user.id || ticket.subject === me.user.id)
    return refuse(deps, ctx, me, 'self');
  const mine = await deps.elevation.approvableScopes(ticket, me.user.id);
  if (!mine.length) return refuse(deps, ctx, me, 'foreign');
  return mine;
}

function refuse(
  deps: ApprovalDeps,
  ctx: Context,
  me: SignedIn,
  kind: keyof typeof REFUSALS,
  why?: string,
  ticketId?: string,
): undefined {
  const { title, message } = REFUSALS[kind];
  ctx.status = 403;
  ctx.body = render('approval-refused', {
    ...chrome(deps, me),
    title,
    message: why ? `${why} ${message}` : message,
    kind,
    back: ticketId ? `/approvals/${ticketId}` : null,
  });
  return undefined;
}

/** What every signed-in page shows: who is signed in, and the sign-out form with its token. */
function chrome(deps: ApprovalDeps, me: SignedIn) {
  return {
    me: { email: me.user.email, name: me.user.name },
    csrf: deps.csrf.token(sessionBinding(me.session)),
  };
}

async function agentName(deps: ApprovalDeps, clientId: string): Promise<string> {
  try {
    const client = await deps.provider.Client.find(clientId);
    return client?.clientName ?? clientId;
  } catch {
    // A client whose stored metadata no longer validates still has an id worth showing.
    return clientId;
  }
}
