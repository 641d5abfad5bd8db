import Router from '@koa/router';
import { CompactSign, importJWK } from 'jose';
import type { PrivateJwk } from '../keys/keystore.ts';
import { notFound } from '../errors.ts';
import { requireOwnToken, type OwnToken, type OwnTokenVerifier } from '../tokens/index.ts';
import type { ElevationService } from './service.ts';
import { ticketNotFound } from './errors.ts';

const TICKET_ID = /^[\w-]{1,64}$/;

export interface ElevationRouteDeps {
  elevation: ElevationService;
  issuer: string;
  signingKeys: PrivateJwk[];
  /** The server's one verifier of its own tokens. */
  tokens: OwnTokenVerifier;
  /** True for a resource this server issues tokens for. */
  knownResource: (aud: string) => boolean;
  /** Clock of the feed's `iat`. Default `() => new Date()`. */
  currentDate?: () => Date;
}

/**
 * Elevation endpoints for verifiers and requesters:
 * - `GET /elevation/v1/revocations?since=<cursor>` — the revocation feed. Its body is a JWS
 *   (`typ: revocations+jwt`) signed with the server's key, so verifiers trust it through the JWKS
 *   they already hold; `next` is the cursor for the following poll.
 * - `DELETE /elevation/v1/elevations/:id` — the requester drops their own elevation early, with
 *   a current access token of theirs from this server (for any of its resources), checked by the
 *   server's one verifier: a token of a revoked grant or elevation is refused with 401.
 * - `POST /elevation/v1/tickets/:id/cancel` — the requester withdraws their own pending ticket
 *   (200 with the ticket's id and status; 404 for anyone else's or an unknown id; 409 once it is
 *   no longer pending). The waiting CIBA request or browser flow then ends with `access_denied`.
 */
export function elevationRoutes(deps: ElevationRouteDeps): Router {
  const router = new Router({ prefix: '/elevation/v1' });
  const signer = deps.signingKeys[0]!;
  const key = importJWK(signer, signer.alg);

  router.get('/revocations', async (ctx) => {
    const since =
      typeof ctx.query.since === 'string' && /^\d{1,18}$/.test(ctx.query.since)
        ? ctx.query.since
        : '0';
    const revoked = await deps.elevation.revokedSince(since);
    const payload = {
      iss: deps.issuer,
      iat: Math.floor((deps.currentDate?.() ?? new Date()).getTime() / 1000),
      revoked: revoked.map((r) => ({
        elevation: r.id,
        revoked_at: Math.floor(r.revokedAt.getTime() / 1000),
      })),
      next: revoked.at(-1)?.seq ?? since,
    };
    const jws = await new CompactSign(new TextEncoder().encode(JSON.stringify(payload)))
      .setProtectedHeader({ alg: signer.alg, kid: signer.kid, typ: 'revocations+jwt' })
      .sign(await key);
    ctx.type = 'application/jwt';
    ctx.set('Cache-Control', 'no-store');
    ctx.body = jws;
  });

  router.delete(
    '/elevations/:id',
    requireOwnToken(deps.tokens, { audience: deps.knownResource }),
    async (ctx) => {
      const { subject } = ctx.state.token as OwnToken;
      const row = await deps.elevation.findElevation(ctx.params.id!);
      if (!row || row.subject !== subject) throw notFound('elevation');
      await deps.elevation.revoke(row.id, subject);
      ctx.status = 204;
    },
  );

  router.post(
    '/tickets/:id/cancel',
    requireOwnToken(deps.tokens, { audience: deps.knownResource, subject: 'user' }),
    async (ctx) => {
      const { subject } = ctx.state.token as OwnToken;
      if (!TICKET_ID.test(ctx.params.id!)) throw ticketNotFound();
      const ticket = await deps.elevation.cancel(ctx.params.id!, subject);
      ctx.set('Cache-Control', 'no-store');
      ctx.body = { id: ticket.id, status: ticket.status };
    },
  );

  return router;
}
