import Router from '@koa/router';
import { bodyParser } from '@koa/bodyparser';
import { z } from 'zod';
import type { AuditLog } from './audit-log.ts';
import { AppError } from '../errors.ts';
import { formatZodIssues } from '../policy/index.ts';
import type { ownTokenVerifier } from '../oidc/own-tokens.ts';

/** Most events one request may carry; a verifier sends larger queues in several batches. */
export const MAX_BATCH = 1000;

const EventSchema = z.strictObject({
  id: z.string().min(1).max(128),
  time: z.iso.datetime({ offset: true }),
  subject: z.string().max(256).optional(),
  clientId: z.string().max(256).optional(),
  tool: z.string().min(1).max(256),
  params: z.unknown().optional(),
  result: z.enum(['success', 'failure', 'denied']),
  elevation: z.string().max(128).optional(),
  critical: z.boolean().optional(),
  decision: z.string().max(64).optional(),
});

const BatchSchema = z.strictObject({ events: z.array(EventSchema).min(1).max(MAX_BATCH) });

/**
 * `POST /audit/v1/events`: tool-call events from verifiers (DESIGN §7.7, §8). Authenticated by the
 * MCP server's own client_credentials token for `<ISSUER>/audit` with scope `audit:write`;
 * idempotent by event id (a retried batch adds nothing); at most {@link MAX_BATCH} events a
 * request. Events join the same hash chain as every other audit record; params are redacted.
 */
export function auditIngestRoutes(deps: { audit: AuditLog; verifyToken: ReturnType<typeof ownTokenVerifier>; audience: string }): Router {
  const router = new Router({ prefix: '/audit/v1' });
  router.post('/events', async (ctx, next) => {
    const token = await deps.verifyToken(ctx.get('authorization'), { audience: deps.audience, scope: 'audit:write' });
    ctx.state.reporter = String(token.client_id ?? '');
    await next();
  }, bodyParser({ enableTypes: ['json'], jsonLimit: '4mb', onError: () => { throw new AppError('invalid_request', 400, 'the body is not valid JSON'); } }), async (ctx) => {
    if (!ctx.is('application/json')) throw new AppError('unsupported_media_type', 415, 'send application/json');
    const parsed = BatchSchema.safeParse(ctx.request.body);
    if (!parsed.success) throw new AppError('invalid_request', 400, formatZodIssues(parsed.error).slice(0, 5).join('; '));
    const { events } = parsed.data;
    const accepted = await deps.audit.append(...events.map((e) => ({
      id: e.id,
      time: new Date(e.time),
      action: 'tool.call',
      result: e.result,
      actor: e.subject ?? null,
      subject: e.subject ?? null,
      clientId: e.clientId ?? null,
      data: { tool: e.tool, params: e.params ?? null, reporter: ctx.state.reporter, ...(e.elevation ? { elevation: e.elevation } : {}), ...(e.decision ? { decision: e.decision } : {}), ...(e.critical ? { critical: true } : {}) },
    })));
    ctx.body = { accepted, duplicates: events.length - accepted };
  });
  return router;
}
