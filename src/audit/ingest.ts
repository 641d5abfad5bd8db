import Router from '@koa/router';
import { bodyParser } from '@koa/bodyparser';
import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';
import { z } from 'zod';
import type { AuditLog } from './audit-log.ts';
import { AppError } from '../errors.ts';
import { formatZodIssues } from '../policy/index.ts';
import { requireOwnToken, type OwnToken, type OwnTokenVerifier } from '../tokens/index.ts';
import { DEFAULTS } from '../config/defaults.ts';

/** Most events one request may carry; a verifier sends larger queues in several batches. */
export const MAX_BATCH = DEFAULTS.auditIngestMaxBatch;
/** Default ingest budget per client: events per minute, and requests per minute. */
export const INGEST_EVENTS_PER_MINUTE = DEFAULTS.auditIngestEventsPerMinute;
export const INGEST_REQUESTS_PER_MINUTE = DEFAULTS.auditIngestRequestsPerMinute;
/** Accepted event times: at most this far in the past (a spool replayed after an outage) … */
export const MAX_EVENT_AGE_MS = DEFAULTS.auditEventMaxAgeMs;
/** … and at most this far ahead (clock skew). */
export const MAX_EVENT_SKEW_MS = DEFAULTS.auditEventMaxSkewMs;

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

/** What {@link auditIngestRoutes} needs. */
export interface AuditIngestDeps {
  audit: AuditLog;
  /** The server's one verifier of its own tokens. */
  tokens: OwnTokenVerifier;
  /** `<ISSUER>/audit`. */
  audience: string;
  /** The MCP server resource an admin registered the client as (`mcp_resource`), if any. */
  mcpResourceOf: (clientId: string) => Promise<string | undefined>;
  /** Budget per client (in-memory, per instance). Defaults above. */
  limits?: { eventsPerMinute?: number; requestsPerMinute?: number };
  /** Clock for the event-time window. Default `() => new Date()`. */
  currentDate?: () => Date;
}

/**
 * `POST /audit/v1/events`: tool-call events from verifiers (ARCHITECTURE.md §7.7, §8). Rules:
 * - the caller is a client acting for itself (client_credentials) whose token for `<ISSUER>/audit`
 *   carries the service scope `audit:write` and passes the server's one verifier (the client
 *   still registered) — else 401/403;
 * - the client is registered by an admin as the MCP server of a resource (`mcp_resource`): its
 *   events are recorded for that resource and nothing else — else 403;
 * - a per-client budget of requests and events per minute (in memory, per instance) — else 429
 *   with `Retry-After`;
 * - at most {@link MAX_BATCH} events, each dated within the last 30 days and not more than
 *   5 minutes ahead — else 400 naming the event;
 * - idempotent by event id (a retried batch adds nothing); params are redacted; events join the
 *   same hash chain as every other audit record.
 */
export function auditIngestRoutes(deps: AuditIngestDeps): Router {
  const requests = new RateLimiterMemory({
    keyPrefix: 'ingest-req',
    points: deps.limits?.requestsPerMinute ?? INGEST_REQUESTS_PER_MINUTE,
    duration: 60,
  });
  const events = new RateLimiterMemory({
    keyPrefix: 'ingest-ev',
    points: deps.limits?.eventsPerMinute ?? INGEST_EVENTS_PER_MINUTE,
    duration: 60,
  });
  const router = new Router({ prefix: '/audit/v1' });
  router.post(
    '/events',
    requireOwnToken(deps.tokens, {
      audience: deps.audience,
      scope: 'audit:write',
      subject: 'client',
    }),
    async (ctx, next) => {
      const { clientId } = ctx.state.token as OwnToken;
      const resource = await deps.mcpResourceOf(clientId);
      if (!resource)
        throw new AppError(
          'ERR_NOT_MCP_SERVER',
          'the client is not registered as the MCP server of a resource',
        );
      await spend(ctx, requests, clientId, 1);
      ctx.state.reporter = { clientId, resource };
      await next();
    },
    bodyParser({
      enableTypes: ['json'],
      jsonLimit: DEFAULTS.auditIngestMaxBodyBytes,
      onError: () => {
        throw new AppError('ERR_INVALID_REQUEST', 'the body is not valid JSON');
      },
    }),
    async (ctx) => {
      if (!ctx.is('application/json'))
        throw new AppError('ERR_JSON_REQUIRED', 'send application/json');
      const parsed = BatchSchema.safeParse(ctx.request.body);
      if (!parsed.success)
        throw new AppError(
          'ERR_INVALID_REQUEST',
          formatZodIssues(parsed.error).slice(0, 5).join('; '),
        );
      const batch = parsed.data.events;
      const now = (deps.currentDate?.() ?? new Date()).getTime();
      const late = batch.findIndex((e) => {
        const t = Date.parse(e.time);
        return t < now - MAX_EVENT_AGE_MS || t > now + MAX_EVENT_SKEW_MS;
      });
      if (late >= 0)
        throw new AppError(
          'ERR_INVALID_REQUEST',
          `events[${late}].time: must be within the last 30 days and at most 5 minutes ahead`,
        );
      const { clientId, resource } = ctx.state.reporter as { clientId: string; resource: string };
      await spend(ctx, events, clientId, batch.length);
      const accepted = await deps.audit.append(
        ...batch.map((e) => ({
          id: e.id,
          time: new Date(e.time),
          action: 'tool.call',
          result: e.result,
          actor: e.subject ?? null,
          subject: e.subject ?? null,
          clientId: e.clientId ?? null,
          resource,
          data: {
            tool: e.tool,
            params: e.params ?? null,
            reporter: clientId,
            ...(e.elevation ? { elevation: e.elevation } : {}),
            ...(e.decision ? { decision: e.decision } : {}),
            ...(e.critical ? { critical: true } : {}),
          },
        })),
      );
      ctx.body = { accepted, duplicates: batch.length - accepted };
    },
  );
  return router;
}

async function spend(
  ctx: { set(k: string, v: string): void },
  limiter: RateLimiterMemory,
  key: string,
  points: number,
): Promise<void> {
  try {
    await limiter.consume(key, points);
  } catch (err) {
    if (!(err instanceof RateLimiterRes)) throw err;
    ctx.set('Retry-After', String(Math.max(1, Math.ceil(err.msBeforeNext / 1000))));
    throw new AppError('ERR_RATE_LIMITED', 'too many audit events from this client; retry later');
  }
}
