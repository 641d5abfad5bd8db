import type Router from '@koa/router';
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { Config } from '../config/env.ts';
import type { Database } from '../db/schema.ts';
import { createOutboundGuard, type OutboundGuard } from '../http/outbound.ts';
import type { AuditLog } from './audit-log.ts';
import { AuditCheckpointer } from './checkpointer.ts';
import { registerAuditMetrics } from './metrics.ts';
import { auditPublicRoutes } from './routes.ts';
import { SecurityEvents } from './security-events.ts';
import type { AuditVerification } from './verify.ts';
import { localCheckpointSources } from './verify-command.ts';

/** The audit log's provable side of one server instance; see {@link createAuditTrail}. */
export interface AuditTrail {
  /** Options for the instance's `AuditLog`: where `verify` finds checkpoints, and its metric. */
  readonly logOptions: {
    checkpoints: ReturnType<typeof localCheckpointSources>;
    onVerified: (v: AuditVerification) => void;
  };
  /** `GET /audit/v1/checkpoints` and `GET /audit/v1/jwks`. */
  readonly routes: Router;
  readonly checkpointer: AuditCheckpointer;
  /**
   * The bounded security events written to `audit` (fed by `oidc/security-events.ts`), and the
   * audit gauges on `registry`.
   */
  observe(audit: AuditLog, registry: Registry): SecurityEvents;
  /** Starts signing checkpoints at the configured cadence. */
  start(): void;
  /** Writes the pending security events and summaries (before the audit log closes). */
  flushEvents(): Promise<void>;
  /**
   * Signs a last checkpoint when {@link start}ed (after the audit log chained the rest) and
   * releases the webhook pool.
   */
  close(): Promise<void>;
}

/**
 * Wires the audit trail's parts of a server: signed checkpoints to the database, the checkpoint
 * folder and the webhook (`AUDIT_CHECKPOINT_*`), their public routes, the bounded writer of
 * security events, and the audit gauges.
 */
export function createAuditTrail(deps: {
  config: Config;
  db: Kysely<Database>;
  log: Logger;
}): AuditTrail {
  const { config, db, log } = deps;
  const settings = config.auditCheckpoints;
  let guard: OutboundGuard | undefined;
  if (settings.webhook) guard = createOutboundGuard({ allow: config.outboundAllow });
  const checkpointer = new AuditCheckpointer({
    db,
    issuer: config.issuer,
    everyEvents: settings.everyEvents,
    everySeconds: settings.everySeconds,
    dir: settings.dir,
    ...(settings.webhook && guard ? { webhook: { url: settings.webhook, guard } } : {}),
    log,
  });
  let events: SecurityEvents | undefined;
  let started = false;
  return {
    logOptions: {
      checkpoints: localCheckpointSources({ db, dir: settings.dir, issuer: config.issuer }),
      onVerified(v) {
        if (v.ok && v.head)
          checkpointer.verifiedSeq = Math.max(checkpointer.verifiedSeq, Number(v.head.seq));
      },
    },
    routes: auditPublicRoutes(db),
    checkpointer,
    observe(audit, registry) {
      events = new SecurityEvents(audit, {
        onError: (err) => log.warn({ err }, 'security audit event not written'),
      });
      registerAuditMetrics(registry, db, () => checkpointer.verifiedSeq);
      return events;
    },
    start() {
      started = true;
      checkpointer.start();
    },
    flushEvents: async () => events?.flush(),
    async close() {
      // Only a serving instance signs: a CLI command's events wait for the server's next one.
      if (started) await checkpointer.stop();
      await guard?.close();
    },
  };
}
