import { adminRoute, type AnyRoute } from '../route.ts';
import { present, TicketDetailView, TicketPageView } from '../presenters.ts';
import { TicketParams, TicketQuery } from '../schemas.ts';
import type { TicketAdminService } from '../services/tickets.ts';

/** `/tickets`: approval tickets, read-only (approvers decide on the approval pages). */
export function ticketRoutes(tickets: TicketAdminService): AnyRoute[] {
  const tag = 'tickets';
  return [
    adminRoute({
      method: 'get',
      path: '/tickets',
      operationId: 'listTickets',
      summary: 'List approval tickets newest first, filtered',
      tag,
      query: TicketQuery,
      response: { status: 200, description: 'A page of tickets', schema: TicketPageView },
      handle: async ({ query }) => present.ticketPage(await tickets.list(query)),
    }),
    adminRoute({
      method: 'get',
      path: '/tickets/:id',
      operationId: 'getTicket',
      summary: 'Get a ticket with its decisions',
      tag,
      params: TicketParams,
      errors: [404],
      response: {
        status: 200,
        description: 'The ticket and every decision on it, oldest first',
        schema: TicketDetailView,
      },
      handle: async ({ params }) => {
        const { ticket, decisions } = await tickets.get(params.id);
        return present.ticketDetail(ticket, decisions);
      },
    }),
  ];
}
