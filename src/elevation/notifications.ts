import type { Transaction } from 'kysely';
import type { Database, TicketRow } from '../db/schema.ts';
import type { Catalogue } from '../policy/index.ts';
import { enqueueMail } from '../mail/index.ts';
import type { ElevationHooks } from './hooks.ts';
import { JUSTIFICATION_MAX, truncateCodePoints } from '../http/text.ts';

const escapeHtml = (s: string) =>
  s.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!,
  );

// Text that came from a requester must not be able to forge lines of the mail (a fake link, a
// fake "approved" line): control characters are removed and it is quoted on a line of its own.
const oneLine = (s: string) =>
  truncateCodePoints(s.replace(/[\p{Cc}\u2028\u2029]/gu, ' '), JUSTIFICATION_MAX);

async function who(
  trx: Transaction<Database>,
  id: string | null,
): Promise<{ email?: string; label: string }> {
  if (!id) return { label: 'an agent acting on its own behalf' };
  const u = await trx
    .selectFrom('app_user')
    .select(['email', 'name'])
    .where('id', '=', id)
    .executeTakeFirst();
  return u ? { email: u.email, label: u.name ? `${u.name} <${u.email}>` : u.email } : { label: id };
}

/**
 * Mail of the approval flow, queued in the outbox inside the transaction that opens or closes a
 * ticket (so mail is sent exactly when the change commits): a request to each eligible approver
 * with the link to `/approvals/<id>`, and the outcome to the requester. `kick` wakes the worker
 * after commit so that mail goes out at once.
 */
export function mailNotifications(opts: {
  issuer: string;
  catalogue: Catalogue;
  kick: () => void;
}): ElevationHooks {
  return {
    async ticketOpened(trx, ticket, approverIds) {
      const requester = await who(trx, ticket.requester_id);
      const link = `${opts.issuer}/approvals/${ticket.id}`;
      const scopes = ticket.scopes
        .map(
          (s) =>
            `  - ${s}: ${opts.catalogue.scopes[s]?.description ?? ''} (${opts.catalogue.scopes[s]?.expiresIn ?? '?'} s)`,
        )
        .join('\n');
      const approvers = approverIds.length
        ? await trx
            .selectFrom('app_user')
            .select(['id', 'email'])
            .where('id', 'in', approverIds)
            .execute()
        : [];
      for (const a of approvers) {
        const text = [
          `${requester.label} asks for elevated access through the client "${ticket.client_id}".`,
          '',
          `Resource: ${ticket.resource}`,
          'Scopes:',
          scopes,
          '',
          'Justification (written by the requester):',
          `  "${oneLine(ticket.justification)}"`,
          '',
          `Review and approve or deny: ${link}`,
          `The request expires at ${ticket.expires_at.toISOString()}.`,
        ].join('\n');
        const html =
          `<p>${escapeHtml(requester.label)} asks for elevated access through the client <b>${escapeHtml(ticket.client_id)}</b>.</p>` +
          `<p>Scopes: ${ticket.scopes.map((s) => `<code>${escapeHtml(s)}</code>`).join(', ')}<br>Resource: ${escapeHtml(ticket.resource)}</p>` +
          `<p>Justification: <q>${escapeHtml(oneLine(ticket.justification))}</q></p><p><a href="${escapeHtml(link)}">Review the request</a></p>`;
        await enqueueMail(trx, {
          to: a.email,
          subject: `Approval needed: ${ticket.scopes.join(', ')}`,
          text,
          html,
          dedupeKey: `ticket:${ticket.id}:approver:${a.id}`,
        });
      }
    },
    async ticketClosed(trx, ticket: TicketRow) {
      const requester = await who(trx, ticket.requester_id);
      if (!requester.email) return;
      await enqueueMail(trx, {
        to: requester.email,
        subject: `Your elevation request was ${ticket.status}`,
        text: `Your request for ${ticket.scopes.join(', ')} on ${ticket.resource} (client "${ticket.client_id}") was ${ticket.status}.`,
        dedupeKey: `ticket:${ticket.id}:outcome`,
      });
    },
    afterCommit() {
      opts.kick();
    },
  };
}
