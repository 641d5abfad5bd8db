import Router from '@koa/router';
import type { Kysely } from 'kysely';
import { z } from 'zod';
import type { Database } from '../db/schema.ts';
import { AppError } from '../errors.ts';
import { auditJwks } from './audit-keys.ts';
import { listCheckpoints } from './checkpointer.ts';

/** Most checkpoints one `GET /audit/v1/checkpoints` returns; the default is 100. */
export const MAX_CHECKPOINTS_PER_PAGE = 1000;

const Query = z.strictObject({
  after: z.coerce.number().int().min(0).max(Number.MAX_SAFE_INTEGER).optional(),
  limit: z.coerce.number().int().min(1).max(MAX_CHECKPOINTS_PER_PAGE).default(100),
});

/**
 * The audit log's public face for auditors, without authentication (they hold nothing secret):
 * - `GET /audit/v1/checkpoints[?after=n][&limit=k]`: the latest `limit` (default 100, at most
 *   1000) signed checkpoints, or the first `limit` after number `after`, oldest first, as
 *   `{"checkpoints": [{"n", "seq", "hash", "kid", "time", "jws"}]}`;
 * - `GET /audit/v1/jwks`: every audit public key ever used (a JWKS), to verify them.
 * Both are served from the database: an auditor keeps what it fetched and verifies against its
 * own copy (`mcp-elevate audit verify --checkpoints <file>`), which the database cannot change.
 */
export function auditPublicRoutes(db: Kysely<Database>): Router {
  const router = new Router({ prefix: '/audit/v1' });
  router.get('/checkpoints', async (ctx) => {
    const parsed = Query.safeParse(ctx.query);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      throw new AppError(
        'ERR_INVALID_REQUEST',
        `${String(issue.path[0] ?? 'query')}: ${issue.message}`,
      );
    }
    const list = await listCheckpoints(db, parsed.data);
    ctx.set('Cache-Control', 'no-store');
    ctx.body = {
      checkpoints: list.map((c) => ({
        n: c.n,
        seq: String(c.seq),
        hash: c.hash,
        kid: c.kid,
        time: c.createdAt.toISOString(),
        jws: c.jws,
      })),
    };
  });
  router.get('/jwks', async (ctx) => {
    ctx.set('Cache-Control', 'public, max-age=60');
    ctx.type = 'application/jwk-set+json';
    ctx.body = await auditJwks(db);
  });
  return router;
}
