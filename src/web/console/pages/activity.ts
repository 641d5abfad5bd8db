import type { Context } from 'koa';
import type { z } from 'zod';
import type { AuditEventView } from '../../../admin/presenters.ts';
import { badge, timeLeft, when } from '../format.ts';
import { text, type PageKit, type Refusal } from '../kit.ts';
import type { ConsoleRouter } from './router.ts';

interface Ticket {
  id: string;
  status: string;
  requesterId: string | null;
  subject: string;
  clientId: string;
  scopes: string[];
  justification: string;
  createdAt: string;
  expiresAt: string;
  decidedAt: string | null;
  elevationId: string | null;
  decisions?: Array<{ approverId: string; decision: string; comment: string; createdAt: string }>;
}
/** As the admin API answers it (its presenter's schema). */
type AuditEvent = z.output<typeof AuditEventView>;

const STATUSES = ['pending', 'approved', 'denied', 'expired', 'cancelled'];
const AUDIT_FILTERS = ['actor', 'action', 'result', 'subject', 'client', 'from', 'to'] as const;

/** The filters of a listing present in the query string, as the API's query. */
function filters(ctx: Context, keys: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const key of keys) {
    const v = text(ctx.query[key]).trim();
    if (v) out[key] = v;
  }
  return out;
}

/**
 * `/console/tickets` and `/console/audit`: approval tickets, and the audit trail with its filters,
 * the chain's verification status and the NDJSON export — each the admin API's operation.
 */
export function activityPages(r: ConsoleRouter, kit: PageKit): void {
  const presentTicket = (t: Ticket) => ({
    ...t,
    badge: badge(t.status),
    created: when(t.createdAt),
    expires: when(t.expiresAt),
    decided: when(t.decidedAt),
    left: t.status === 'pending' ? timeLeft(t.expiresAt, kit.now()) : '',
  });

  r.get('/tickets', async (ctx) => {
    const query = filters(ctx, ['status', 'cursor']);
    const page = await kit.call<{ items: Ticket[]; nextCursor: string | null }>(
      ctx,
      'listTickets',
      { query },
    );
    kit.show(ctx, 'console-tickets', 'tickets', {
      title: 'Tickets',
      status: query.status ?? '',
      statuses: STATUSES,
      items: page.items.map(presentTicket),
      next: page.nextCursor
        ? `?${new URLSearchParams({ ...(query.status ? { status: query.status } : {}), cursor: page.nextCursor })}`
        : null,
    });
  });
  r.get('/tickets/:id', async (ctx) => {
    const ticket = await kit.call<Ticket>(ctx, 'getTicket', { params: { id: ctx.params.id } });
    kit.show(ctx, 'console-ticket', 'tickets', {
      title: `Ticket ${ticket.id}`,
      ticket: presentTicket(ticket),
      decisions: (ticket.decisions ?? []).map((d) => ({ ...d, at: when(d.createdAt) })),
    });
  });

  // Filters the API refuses (a malformed time …) show its message above an unfiltered listing.
  const audit = async (ctx: Context, chosen: Record<string, string>, refusal?: Refusal) => {
    const page = await kit.call<{ items: AuditEvent[]; nextCursor: string | null }>(
      ctx,
      'queryAudit',
      { query: refusal ? {} : { ...chosen, ...filters(ctx, ['cursor']) } },
    );
    const verify = await kit.call<{
      ok: boolean;
      count: number;
      brokenAt?: { kind: string; seq: string; reason: string };
      checkpoints: { checked: number; latest: { time: string } | null };
    }>(ctx, 'verifyAuditChain');
    kit.show(
      ctx,
      'console-audit',
      'audit',
      {
        title: 'Audit',
        filters: { ...Object.fromEntries(AUDIT_FILTERS.map((k) => [k, ''])), ...chosen },
        items: page.items.map((e) => ({
          ...e,
          at: when(e.time),
          badge: badge(e.result),
          data: JSON.stringify(e.data),
        })),
        verify: {
          ...verify,
          badge: badge(verify.ok ? 'ok' : 'broken'),
          latest: when(verify.checkpoints.latest?.time),
        },
        exportHref: `/console/audit/export${Object.keys(chosen).length && !refusal ? `?${new URLSearchParams(chosen)}` : ''}`,
        next: page.nextCursor
          ? `?${new URLSearchParams({ ...(refusal ? {} : chosen), cursor: page.nextCursor })}`
          : null,
      },
      refusal,
    );
  };
  r.get('/audit', (ctx) => {
    const chosen = filters(ctx, AUDIT_FILTERS);
    return kit.act(
      ctx,
      () => audit(ctx, chosen),
      (refusal) => audit(ctx, chosen, refusal),
    );
  });
  r.get('/audit/export', async (ctx) => {
    const body = await kit.call(ctx, 'exportAudit', { query: filters(ctx, AUDIT_FILTERS) });
    ctx.type = 'application/x-ndjson';
    ctx.attachment('audit.ndjson');
    ctx.body = body;
  });
}
