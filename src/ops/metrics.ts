import Router from '@koa/router';
import type { Context, Next } from 'koa';
import type { Kysely } from 'kysely';
import type Provider from 'oidc-provider';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Database } from '../db/schema.ts';
import { outboxDepth } from '../mail/index.ts';

/** The server's Prometheus metrics (ARCHITECTURE.md §8 "Operations"). */
export interface ServerMetrics {
  registry: Registry;
  tokens: Counter<'grant_type' | 'outcome'>;
  elevations: Counter<'scope' | 'outcome'>;
  approvalLatency: Histogram;
  http: Histogram<'method' | 'route' | 'status'>;
}

/**
 * Builds the registry: tokens issued by grant type and outcome (from oidc-provider's
 * `grant.success` / `grant.error` events), elevation requests by scope and outcome, approval
 * latency, pending tickets and outbox depth (read from the database at scrape time), HTTP
 * durations by route, and the process defaults.
 */
export function createServerMetrics(db: Kysely<Database>): ServerMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const tokens = new Counter({
    name: 'mcp_elevate_tokens_total',
    help: 'Token endpoint results by grant type and outcome',
    labelNames: ['grant_type', 'outcome'] as const,
    registers: [registry],
  });
  const elevations = new Counter({
    name: 'mcp_elevate_elevation_requests_total',
    help: 'Elevation requests by scope and outcome (granted, pending, ineligible, approved, denied, expired, cancelled)',
    labelNames: ['scope', 'outcome'] as const,
    registers: [registry],
  });
  const approvalLatency = new Histogram({
    name: 'mcp_elevate_approval_latency_seconds',
    help: 'Time from ticket creation to its decision',
    buckets: [5, 15, 30, 60, 120, 300, 600, 900, 1800],
    registers: [registry],
  });
  const http = new Histogram({
    name: 'mcp_elevate_http_request_duration_seconds',
    help: 'HTTP request duration by route',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });
  new Gauge({
    name: 'mcp_elevate_pending_tickets',
    help: 'Approval tickets waiting for a decision',
    registers: [registry],
    async collect() {
      const row = await db
        .selectFrom('elevation_ticket')
        .select((eb) => eb.fn.countAll<string>().as('n'))
        .where('status', '=', 'pending')
        .executeTakeFirst();
      this.set(Number(row?.n ?? 0));
    },
  });
  new Gauge({
    name: 'mcp_elevate_outbox_depth',
    help: 'Mail messages not yet sent',
    registers: [registry],
    async collect() {
      this.set(await outboxDepth(db));
    },
  });
  return { registry, tokens, elevations, approvalLatency, http };
}

/** Counts token endpoint outcomes from oidc-provider's events. */
export function observeProvider(provider: Provider, m: ServerMetrics): void {
  const grantType = (ctx: { oidc?: { params?: { grant_type?: unknown } } }) =>
    String(ctx.oidc?.params?.grant_type ?? 'unknown').slice(0, 64);
  provider.on('grant.success', (ctx) =>
    m.tokens.inc({ grant_type: grantType(ctx), outcome: 'success' }),
  );
  provider.on('grant.error', (ctx, err: { error?: string }) =>
    m.tokens.inc({ grant_type: grantType(ctx), outcome: err.error ?? 'error' }),
  );
}

/**
 * HTTP duration by route. The label is the matched router pattern or oidc-provider's route name,
 * never the raw path, so ids in URLs cannot blow up the label set.
 */
export function httpMetricsMiddleware(m: ServerMetrics) {
  return async (ctx: Context, next: Next) => {
    const end = m.http.startTimer();
    try {
      await next();
    } finally {
      const route =
        (ctx as { _matchedRoute?: string })._matchedRoute ??
        (ctx as { oidc?: { route?: string } }).oidc?.route ??
        'other';
      end({ method: ctx.method, route: String(route), status: String(ctx.status) });
    }
  };
}

/** `GET /metrics` in the Prometheus text format. */
export function metricsRoutes(m: ServerMetrics): Router {
  const router = new Router();
  router.get('/metrics', async (ctx) => {
    ctx.type = m.registry.contentType;
    ctx.body = await m.registry.metrics();
  });
  return router;
}
