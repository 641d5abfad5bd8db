import type { Context } from 'koa';
import type { z } from 'zod';
import type { ElevationView } from '../../../admin/presenters.ts';
import { badge, timeLeft, when } from '../format.ts';
import type { PageKit, Refusal } from '../kit.ts';
import type { ConsoleRouter } from './router.ts';

/** As the admin API answers it (its presenter's schema). */
type Elevation = z.output<typeof ElevationView>;

const SHOW = ['live', 'ended', 'all'] as const;

/** `/console/elevations`: granted elevations (live first by default) and their revocation. */
export function elevationPages(r: ConsoleRouter, kit: PageKit): void {
  const show = async (ctx: Context, refusal?: Refusal) => {
    const q = ctx.query;
    const filter = SHOW.find((s) => s === q.show) ?? 'live';
    const query: Record<string, unknown> = {};
    if (filter !== 'all') query.live = filter === 'live' ? 'true' : 'false';
    if (typeof q.subject === 'string' && q.subject) query.subject = q.subject;
    if (typeof q.cursor === 'string' && q.cursor) query.cursor = q.cursor;
    const page = await kit.call<{ items: Elevation[]; nextCursor: string | null }>(
      ctx,
      'listElevations',
      { query },
    );
    const now = kit.now();
    kit.show(
      ctx,
      'console-elevations',
      'elevations',
      {
        title: 'Elevations',
        filter,
        subject: query.subject ?? '',
        items: page.items.map((e) => ({
          ...e,
          badge: badge(e.state),
          created: when(e.createdAt),
          expires: when(e.expiresAt ?? e.claimBy),
          revoked: when(e.revokedAt),
          left: e.state === 'live' ? timeLeft(e.expiresAt ?? e.claimBy, now) : '',
          unclaimed: !e.expiresAt,
        })),
        next: page.nextCursor
          ? `?${new URLSearchParams({ show: filter, ...(query.subject ? { subject: String(query.subject) } : {}), cursor: page.nextCursor })}`
          : null,
      },
      refusal,
    );
  };
  r.get('/elevations', (ctx) => show(ctx));
  r.post('/elevations/:id/revoke', (ctx) =>
    kit.act(
      ctx,
      async () => {
        await kit.call(ctx, 'revokeElevation', { params: { id: ctx.params.id } });
        kit.done(ctx, '/console/elevations', 'revoked');
      },
      (refusal) => show(ctx, refusal),
    ),
  );
}
