import type { Kysely } from 'kysely';
import { Gauge, type Registry } from 'prom-client';
import type { Database } from '../db/schema.ts';

/**
 * The audit gauges, registered on the server's registry:
 * - `mcp_elevate_audit_verified_seq`: the highest `seq` this instance found intact, when it last
 *   signed a checkpoint or ran a verification (0 before);
 * - `mcp_elevate_audit_checkpoint_age_seconds`: seconds since the latest checkpoint of any
 *   instance was signed (read from the database at scrape time; -1 when there is none yet);
 * - `mcp_elevate_audit_unchecked_events`: events after the latest checkpoint.
 */
export function registerAuditMetrics(
  registry: Registry,
  db: Kysely<Database>,
  verifiedSeq: () => number,
): void {
  new Gauge({
    name: 'mcp_elevate_audit_verified_seq',
    help: 'Highest audit event seq this instance found intact (last checkpoint signed or verification)',
    registers: [registry],
    collect() {
      this.set(verifiedSeq());
    },
  });
  const latest = async () =>
    (await db
      .selectFrom('audit_checkpoint')
      .select(['seq', 'created_at'])
      .orderBy('n', 'desc')
      .limit(1)
      .executeTakeFirst()) ?? undefined;
  new Gauge({
    name: 'mcp_elevate_audit_checkpoint_age_seconds',
    help: 'Seconds since the latest audit checkpoint was signed (-1: none yet)',
    registers: [registry],
    async collect() {
      const c = await latest();
      this.set(c ? (Date.now() - new Date(c.created_at).getTime()) / 1000 : -1);
    },
  });
  new Gauge({
    name: 'mcp_elevate_audit_unchecked_events',
    help: 'Audit events not yet covered by a checkpoint',
    registers: [registry],
    async collect() {
      const c = await latest();
      const head = await db
        .selectFrom('audit_event')
        .select((eb) => eb.fn.max('seq').as('max'))
        .executeTakeFirst();
      this.set(Math.max(0, Number(head?.max ?? 0) - Number(c?.seq ?? 0)));
    },
  });
}
