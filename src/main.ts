import { mkdir, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import type { Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type Provider from 'oidc-provider';
import { pino, type Logger } from 'pino';
import type { Config } from './config/env.ts';
import { loadCatalogue } from './config/scopes.ts';
import { connect, type Db, type EmbeddedAccess } from './db/connect.ts';
import { migrateToLatest } from './db/migrate.ts';
import { loadCookieKeys, loadSigningKeys } from './keys/keystore.ts';
import { UserRepository } from './accounts/users.ts';
import { LoginThrottle } from './accounts/login-limiter.ts';
import { SignInService } from './accounts/sign-in.ts';
import { deleteExpiredCounters } from './accounts/throttle-store.ts';
import { RoleService } from './roles/role-service.ts';
import { AuditLog } from './audit/audit-log.ts';
import { Csrf } from './http/csrf.ts';
import { createProvider, providerRequestMiddleware } from './oidc/provider.ts';
import { deleteExpiredPayloads } from './oidc/adapter.ts';
import { interactionRoutes } from './oidc/interactions/routes.ts';
import { createApp } from './app.ts';
import { isAppError } from './errors.ts';
import type { Catalogue } from './policy/index.ts';
import { ElevationService } from './elevation/service.ts';
import { resumeCibaRequest } from './oidc/ciba/resume.ts';
import { elevationRoutes } from './elevation/routes.ts';
import { auditIngestRoutes } from './audit/ingest.ts';
import { createAuditTrail } from './audit/trail.ts';
import type { AuditCheckpointer } from './audit/checkpointer.ts';
import { observeSecurityEvents } from './oidc/security-events.ts';
import { createOwnTokenVerifier } from './tokens/index.ts';
import { acceptedScopes, auditResource } from './oidc/resources.ts';
import { mcpResourceOf } from './oidc/clients.ts';
import { createServerMetrics, metricsRoutes, observeProvider } from './ops/metrics.ts';
import { createMailer, startOutboxWorker, type OutboxWorker } from './mail/index.ts';
import { mailNotifications } from './elevation/notifications.ts';
import {
  adminAuthenticator,
  adminRouteTable,
  createAdminRouter,
  type AdminDeps,
} from './admin/index.ts';
import { consoleRoutes } from './web/console/routes.ts';
import { createPolicyBundleRoutes } from './policy-bundle/index.ts';
import { approvalRoutes } from './approvals/routes.ts';
import { accountRoutes } from './web/account/routes.ts';
import { webSignInRoutes } from './web/sign-in.ts';
import { PasskeyService } from './passkeys/service.ts';
import { passkeyRoutes } from './passkeys/routes.ts';
import { passkeyAssetRoutes } from './passkeys/assets.ts';
import { deleteExpiredChallenges } from './passkeys/repository.ts';
import { ADMIN_SCOPE } from './admin/auth.ts';
import { homeRoutes } from './http/home.ts';
import { DEFAULTS } from './config/defaults.ts';
import { createFederation } from './federation/index.ts';

/** A running (or ready to run) authorization server. */
export interface Server {
  readonly config: Config;
  readonly provider: Provider;
  readonly db: Db;
  readonly log: Logger;
  readonly catalogue: Catalogue;
  readonly users: UserRepository;
  readonly roles: RoleService;
  readonly audit: AuditLog;
  /** Signs audit checkpoints (README "Audit"); `run(true)` signs the head now. */
  readonly auditCheckpoints: AuditCheckpointer;
  readonly elevation: ElevationService;
  /** Listens on `port` (default: the configured one; 0 for any free port); resolves with the base URL. */
  listen(port?: number): Promise<string>;
  /** Stops accepting connections, finishes in-flight requests, stops workers, closes the database. */
  close(): Promise<void>;
}

export interface ServerOptions {
  /** Logger to use; default a pino JSON logger at the configured level. */
  log?: Logger;
  /** Run the background workers (expired-row cleanup …). Default true. */
  workers?: boolean;
  /** Create the first admin account when there are no users. Default true. */
  bootstrapAdmin?: boolean;
  /**
   * How to open an embedded database (no DATABASE_URL): `serve` (default) owns it and serves it
   * to other processes, refusing when another process does; `use` goes through that owner.
   */
  embedded?: EmbeddedAccess;
  /**
   * The clock of the server's own rules: ticket expiry, elevation windows, fresh sign-in, CIBA
   * polling intervals, approval pages. oidc-provider keeps its own (token `iat`/`exp`, artifact
   * expiry). Default `() => new Date()`; tests pass a controlled one instead of waiting.
   */
  currentDate?: () => Date;
}

/** How long accepted connections may take to send their request once shutdown began. */
const SHUTDOWN_GRACE_MS = DEFAULTS.shutdownGraceMs;

/** Redaction paths so that secrets never reach the logs. */
export const LOG_REDACT = [
  'req.headers.authorization',
  'req.headers.cookie',
  '*.password',
  '*.client_secret',
  '*.token',
  '*.access_token',
  '*.refresh_token',
];

/**
 * Composition root: validates the catalogue, opens and migrates the database, loads (or creates)
 * keys, wires repositories, oidc-provider and routes. Nothing listens until {@link Server.listen}.
 */
export async function createServer(config: Config, opts: ServerOptions = {}): Promise<Server> {
  const log = opts.log ?? pino({ level: config.logLevel, redact: LOG_REDACT });
  const db = await connect({
    databaseUrl: config.databaseUrl,
    dataDir: config.dataDir,
    ...(opts.embedded ?? { role: 'serve', command: 'mcp-elevate serve' }),
  });
  try {
    await migrateToLatest(db.db);
    const roles = new RoleService(db.db);
    const catalogue = await loadCatalogue(
      config.scopesFile,
      (await roles.roles()).map((r) => r.name),
    );
    const [signingKeys, cookieKeys] = await Promise.all([
      loadSigningKeys(db.db),
      loadCookieKeys(db.db),
    ]);
    const users = new UserRepository(db.db);
    // Signed checkpoints, their public routes, security events and gauges (README "Audit").
    const trail = createAuditTrail({ config, db: db.db, log });
    const audit = new AuditLog(db.db, {
      onError: (err) => log.warn({ err }, 'audit chaining failed; retrying'),
      ...trail.logOptions,
    });
    const currentDate = opts.currentDate ?? (() => new Date());
    const elevation = new ElevationService({
      db: db.db,
      catalogue,
      roles,
      audit,
      currentDate,
      // ADMIN_REQUIRE_PASSKEY: admin elevation is approved only with a passkey.
      passkeyScopes: config.adminRequirePasskey ? [ADMIN_SCOPE] : [],
    });
    // Enterprise sign-in: FEDERATION_FILE is checked here, before the port opens.
    const federation = await createFederation({
      config,
      db: db.db,
      users,
      audit,
      elevation,
      roleNames: (await roles.roles()).map((r) => r.name),
      currentDate,
    });
    // One verifier of the server's own tokens for every consumer (ARCHITECTURE.md §8 Trust boundaries).
    const tokens = createOwnTokenVerifier({
      issuer: config.issuer,
      db: db.db,
      catalogue,
      roles,
      loadKeys: () => loadSigningKeys(db.db),
    });
    const knownResource = (aud: string) =>
      acceptedScopes(catalogue, config.issuer, aud) !== undefined;
    const provider = createProvider({
      config,
      db: db.db,
      catalogue,
      users,
      roles,
      signingKeys,
      cookieKeys,
      elevation,
      tokens,
      currentDate,
    });
    elevation.addHooks({
      afterCommit: (ticket) =>
        resumeCibaRequest({ provider, catalogue, issuer: config.issuer, elevation }, ticket),
    });
    let outbox: OutboxWorker | undefined;
    elevation.addHooks(
      mailNotifications({ issuer: config.issuer, catalogue, kick: () => outbox?.kick() }),
    );
    const metrics = createServerMetrics(db.db);
    observeProvider(provider, metrics);
    observeSecurityEvents(provider, trail.observe(audit, metrics.registry));
    elevation.addHooks({
      outcome(scopes, outcome, ticket) {
        for (const scope of scopes) metrics.elevations.inc({ scope, outcome });
        if (ticket?.decided_at && (outcome === 'approved' || outcome === 'denied')) {
          metrics.approvalLatency.observe(
            (ticket.decided_at.getTime() - new Date(ticket.created_at).getTime()) / 1000,
          );
        }
      },
    });
    const csrf = new Csrf(cookieKeys[0]!);
    const passkeys = new PasskeyService({ db: db.db, audit, issuer: config.issuer, currentDate });
    // One sign-in service for both forms (authorization and approvals): one email spelling, one
    // throttle budget in the database shared by every instance.
    const signIn = new SignInService({
      users,
      audit,
      throttle: new LoginThrottle(db.db),
      localLogin: config.localLogin,
    });
    const upstreams = federation.upstreams;
    const adminDeps: AdminDeps = {
      issuer: config.issuer,
      provider,
      db: db.db,
      roles,
      audit,
      catalogue,
      elevation,
      tokens,
    };
    const app = createApp({
      provider,
      providerMiddleware: providerRequestMiddleware(provider, config, catalogue),
      db: db.db,
      log,
      metrics,
      routers: [
        metricsRoutes(metrics),
        homeRoutes({ issuer: config.issuer, catalogue }),
        interactionRoutes({
          provider,
          users,
          roles,
          catalogue,
          audit,
          csrf,
          elevation,
          signIn,
          upstreams,
          issuer: config.issuer,
          currentDate,
        }),
        elevationRoutes({
          elevation,
          issuer: config.issuer,
          signingKeys,
          tokens,
          knownResource,
          currentDate,
        }),
        auditIngestRoutes({
          audit,
          tokens,
          audience: auditResource(config.issuer),
          mcpResourceOf: (id) => mcpResourceOf(db.db, id),
          limits: { eventsPerMinute: config.auditIngestEventsPerMinute },
        }),
        trail.routes,
        createAdminRouter(adminDeps),
        createPolicyBundleRoutes({ issuer: config.issuer, catalogue, roles, signingKeys }),
        webSignInRoutes({ users, signIn, csrf, audit, upstreams }),
        federation.routes(provider),
        // The console runs the admin API's own operations behind its own token check.
        consoleRoutes({
          issuer: config.issuer,
          provider,
          db: db.db,
          users,
          roles,
          authenticator: adminAuthenticator(adminDeps),
          routes: adminRouteTable(adminDeps),
          csrf,
          cookieKey: cookieKeys[0]!,
          currentDate,
        }),
        passkeyAssetRoutes(),
        // Before the approval pages, whose `/approvals/:id` would take `passkeys` for a ticket id.
        passkeyRoutes({ passkeys, users, elevation, csrf, currentDate }),
        approvalRoutes({
          elevation,
          users,
          catalogue,
          audit,
          csrf,
          signIn,
          passkeys,
          db: db.db,
          provider,
          currentDate,
        }),
        accountRoutes({
          db: db.db,
          users,
          elevation,
          audit,
          csrf,
          provider,
          passkeys,
          currentDate,
        }),
      ],
    });
    if (opts.bootstrapAdmin !== false) await bootstrapAdmin(config, users, log);

    let http: HttpServer | undefined;
    const served = { started: 0, completed: 0 };
    const timers: NodeJS.Timeout[] = [];
    const mailer = createMailer(
      { smtpUrl: config.smtpUrl, mailFrom: config.mailFrom, dataDir: config.dataDir },
      log,
    );
    if (opts.workers !== false) {
      outbox = startOutboxWorker({ db: db.db, mailer, log });
      audit.start();
      trail.start();
      const cleanup = setInterval(() => {
        deleteExpiredPayloads(db.db).catch((err) =>
          log.warn({ err }, 'expired artifact cleanup failed'),
        );
        deleteExpiredCounters(db.db).catch((err) =>
          log.warn({ err }, 'expired throttle cleanup failed'),
        );
        federation
          .cleanup()
          .catch((err) => log.warn({ err }, 'expired federation sign-in cleanup failed'));
        deleteExpiredChallenges(db.db).catch((err) =>
          log.warn({ err }, 'expired passkey challenge cleanup failed'),
        );
      }, 10 * 60_000);
      // Pending tickets past their expiry are closed (and their flows told) within seconds.
      const sweep = setInterval(() => {
        elevation.expireDue().catch((err) => log.warn({ err }, 'ticket expiry sweep failed'));
      }, 5_000);
      for (const t of [cleanup, sweep]) {
        t.unref();
        timers.push(t);
      }
    }

    return {
      config,
      provider,
      db,
      log,
      catalogue,
      users,
      roles,
      audit,
      auditCheckpoints: trail.checkpointer,
      elevation,
      async listen(port = config.port) {
        http = app.listen(port, '0.0.0.0');
        // Requests the server began handling vs. answered in full: equal after a graceful close.
        http.on('request', (_req, res) => {
          served.started++;
          res.on('finish', () => served.completed++);
        });
        await once(http, 'listening');
        const { port: actual } = http.address() as AddressInfo;
        log.info({ port: actual, issuer: config.issuer }, 'mcp-elevate listening');
        return `http://127.0.0.1:${actual}`;
      },
      // Graceful shutdown, in order: stop accepting connections and let in-flight requests
      // finish (keep-alive connections are closed once idle), stop the workers, close the pool.
      async close() {
        if (http) {
          const closed = once(http, 'close');
          http.close();
          // Connections accepted just before the close get a moment to send their request;
          // after that, idle keep-alive connections are closed so the server can finish.
          const idle = setTimeout(function sweep() {
            http?.closeIdleConnections();
            idle.refresh();
          }, SHUTDOWN_GRACE_MS);
          await closed;
          clearTimeout(idle);
          log.info({ requests: served }, 'http server closed');
        }
        timers.forEach(clearInterval);
        await outbox?.stop();
        // Every event of the requests just finished is chained, and signed, before the pool closes.
        await trail.flushEvents();
        await audit.close();
        await trail.close();
        mailer.close();
        await federation.close();
        await db.close();
      },
    };
  } catch (err) {
    await db.close().catch(() => {});
    throw err;
  }
}

/**
 * On first start with no users: an admin account whose one-time password is printed once and
 * written to `DATA_DIR/initial-admin-password` (mode 0600), never logged.
 */
async function bootstrapAdmin(config: Config, users: UserRepository, log: Logger): Promise<void> {
  if ((await users.count()) > 0) return;
  const password = randomBytes(18).toString('base64url');
  const email = 'admin@localhost';
  try {
    await users.create({
      email,
      password,
      name: 'Administrator',
      roles: ['admin'],
      groups: ['security-team'],
    });
  } catch (err) {
    // Another instance created it at the same moment: nothing to do.
    if (isAppError(err, 'ERR_CONFLICT')) return;
    throw err;
  }
  await mkdir(config.dataDir, { recursive: true });
  const file = join(config.dataDir, 'initial-admin-password');
  await writeFile(file, `${password}\n`, { mode: 0o600 });
  log.info({ email, passwordFile: file }, 'created the initial admin account');
  process.stdout.write(
    `\nInitial admin account: ${email}\nOne-time password: ${password}\n(also saved to ${file}, mode 0600)\n\n`,
  );
}
