import { randomUUID } from 'node:crypto';
import type Koa from 'koa';
import Router from '@koa/router';
import type Provider from 'oidc-provider';
import type { Logger } from 'pino';
import { sql, type Kysely } from 'kysely';
import type { Database } from './db/schema.ts';
import { AppError } from './errors.ts';
import { errorMiddleware } from './http/errors.ts';
import { answerOAuthError } from './http/oauth-error.ts';
import { inputBoundary } from './http/input-boundary.ts';
import { httpMetricsMiddleware, type ServerMetrics } from './ops/metrics.ts';
import { tracingMiddleware } from './ops/tracing.ts';
import { RETRY_AFTER_SECONDS, isDatabaseUnavailable } from './http/unavailable.ts';
import { migrationsCurrent } from './db/migrate.ts';
import { observeClientAuthFailures } from './oidc/client-auth-failures.ts';
import { securityHeaders } from './http/security-headers.ts';

export interface AppDeps {
  provider: Provider;
  db: Kysely<Database>;
  log: Logger;
  metrics: ServerMetrics;
  routers: Router[];
  /** oidc-provider's request rewriting, run right after the input boundary. Default none. */
  providerMiddleware?: Koa.Middleware[];
}

const mounted = new WeakMap<Koa, readonly Router[]>();

/** The routers {@link createApp} mounted on `app` in front of oidc-provider's (a route listing). */
export function mountedRouters(app: Koa): readonly Router[] {
  return mounted.get(app) ?? [];
}

/**
 * The HTTP application. oidc-provider is itself a Koa application; our middleware and routers are
 * registered in front of its own routes with `provider.use` (its documented extension point):
 * request ids and logging, the error-mapping middleware, operational endpoints, our routers.
 */
export function createApp(deps: AppDeps): Koa {
  const app = deps.provider;
  app.silent = true;
  // First of all, so every response carries them: ours, oidc-provider's, and error pages.
  app.use(securityHeaders());

  app.use(async (ctx, next) => {
    const started = performance.now();
    const incoming = ctx.get('x-request-id');
    ctx.state.reqId = /^[\w.-]{1,64}$/.test(incoming) ? incoming : randomUUID();
    ctx.set('X-Request-Id', ctx.state.reqId);
    try {
      await next();
    } finally {
      deps.log.debug(
        {
          reqId: ctx.state.reqId,
          method: ctx.method,
          path: ctx.path,
          status: ctx.status,
          ms: Math.round(performance.now() - started),
        },
        'request',
      );
    }
  });
  // First after the request id: no route, oidc-provider's included, sees text it cannot store.
  app.use(inputBoundary());
  for (const middleware of deps.providerMiddleware ?? []) app.use(middleware as never);
  app.use(tracingMiddleware());
  app.use(httpMetricsMiddleware(deps.metrics));
  // oidc-provider answers its own failures; when the cause was the database being unreachable,
  // its `server_error` becomes a 503 with Retry-After so clients back off and retry.
  deps.provider.on('server_error', (ctx, err) => {
    if (isDatabaseUnavailable(err)) ctx.state.databaseUnavailable = true;
    else deps.log.error({ err, reqId: ctx.state.reqId }, 'oidc-provider server_error');
  });
  // The response stays a generic invalid_client; the log says why (never with the secret).
  observeClientAuthFailures(deps.provider, (failure, ctx) =>
    deps.log.info({ ...failure, reqId: ctx.state.reqId }, 'client authentication failed'),
  );
  app.use(async (ctx, next) => {
    await next();
    if (ctx.state.databaseUnavailable && ctx.status === 500) {
      ctx.set('Retry-After', String(RETRY_AFTER_SECONDS));
      answerOAuthError(
        ctx,
        new AppError(
          'ERR_TEMPORARILY_UNAVAILABLE',
          'the service is temporarily unavailable; retry shortly',
        ),
      );
    }
  });
  app.use(errorMiddleware(deps.log));

  const ops = new Router();
  ops.get('/healthz', (ctx) => {
    ctx.body = { status: 'ok' };
  });
  ops.get('/readyz', async (ctx) => {
    try {
      await sql`select 1`.execute(deps.db);
      if (!(await migrationsCurrent(deps.db))) {
        ctx.status = 503;
        ctx.body = { status: 'unavailable', detail: 'database migrations pending' };
        return;
      }
      ctx.body = { status: 'ready' };
    } catch {
      ctx.status = 503;
      ctx.set('Retry-After', String(RETRY_AFTER_SECONDS));
      ctx.body = { status: 'unavailable', detail: 'database unreachable' };
    }
  });
  // RFC 8414 metadata: the same document as OpenID discovery (a superset), at its own path.
  ops.get('/.well-known/oauth-authorization-server', async (ctx, next) => {
    ctx.path = '/.well-known/openid-configuration';
    await next();
  });
  app.use(ops.routes());
  mounted.set(app, [ops, ...deps.routers]);
  for (const r of deps.routers) {
    const routes = r.routes();
    const methods = r.allowedMethods();
    const prefix = r.opts.prefix;
    // A router is skipped by one string test (its prefix, or its set of fixed paths) for other
    // paths: the token endpoint should not pay for matching every router's routes.
    const paths = new Set(r.stack.map((layer) => layer.path));
    const fixed = [...paths].every((path) => typeof path === 'string' && !/[:*(]/.test(path));
    const mine = prefix
      ? (path: string) => path.startsWith(prefix)
      : fixed
        ? (path: string) => paths.has(path)
        : () => true;
    app.use((ctx, next) =>
      mine(ctx.path) ? routes(ctx as never, () => methods(ctx as never, next)) : next(),
    );
  }
  return app;
}
