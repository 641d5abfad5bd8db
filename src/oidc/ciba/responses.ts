/**
 * Rewrites oidc-provider's CIBA responses, as middleware run around its routes
 * (`provider.use`). Rules:
 * - a `/backchannel` success advertises the polling `interval` this server enforces;
 * - `access_denied` at `/backchannel` is a 403 (CIBA §13), not oidc-provider's 400;
 * - at `/token`, a CIBA poll answered `authorization_pending` sooner than `interval` after the
 *   previous poll of the same request is answered `slow_down` instead (CIBA §11).
 */
import type { Kysely } from 'kysely';
import type { KoaContextWithOIDC } from 'oidc-provider';
import type { Database } from '../../db/schema.ts';
import { pollTooSoon } from './polls.ts';
import { CIBA_GRANT } from './types.ts';

export function cibaResponses(deps: {
  db: Kysely<Database>;
  /** Seconds between polls (`CIBA_POLL_INTERVAL`). */
  interval: number;
  currentDate: () => Date;
}) {
  return async (ctx: KoaContextWithOIDC, next: () => Promise<unknown>): Promise<void> => {
    await next();
    const body = ctx.body as Record<string, unknown> | undefined;
    if (ctx.path === '/backchannel' && ctx.status === 200 && body?.auth_req_id)
      body.interval = deps.interval;
    if (ctx.path === '/backchannel' && body?.error === 'access_denied') ctx.status = 403;
    if (
      ctx.path === '/token' &&
      body?.error === 'authorization_pending' &&
      ctx.oidc?.params?.grant_type === CIBA_GRANT &&
      (await pollTooSoon(
        deps.db,
        String(ctx.oidc.params.auth_req_id),
        deps.interval,
        deps.currentDate(),
      ))
    ) {
      ctx.body = {
        error: 'slow_down',
        error_description: `poll no more often than every ${deps.interval} seconds`,
      };
    }
  };
}
