import { Readable } from 'node:stream';
import type { AuditLog } from '../../audit/audit-log.ts';
import type { AuditRow } from '../../db/schema.ts';
import { adminRoute, type AnyRoute } from '../route.ts';
import { AuditEventView, AuditPageView, AuditVerifyView, present } from '../presenters.ts';
import { AuditExportQuery, AuditQuery } from '../schemas.ts';
import type { AuditQueryService } from '../services/audit.ts';

/** NDJSON: one event a line, one string per chunk of events (backpressure pulls the next chunk). */
async function* ndjson(chunks: AsyncIterable<AuditRow[]>): AsyncGenerator<string> {
  for await (const rows of chunks)
    yield rows.map((e) => `${JSON.stringify(present.auditEvent(e))}\n`).join('');
}

/** `/audit`: the hash-chained audit log: query, export and chain verification. */
export function auditRoutes(audit: AuditLog, query: AuditQueryService): AnyRoute[] {
  const tag = 'audit';
  return [
    adminRoute({
      method: 'get',
      path: '/audit',
      operationId: 'queryAudit',
      summary: 'Query audit events, newest first by default',
      tag,
      query: AuditQuery,
      response: { status: 200, description: 'A page of events', schema: AuditPageView },
      handle: async ({ query: q }) => present.auditPage(await query.page(q)),
    }),
    adminRoute({
      method: 'get',
      path: '/audit/export',
      operationId: 'exportAudit',
      summary: 'Export audit events as NDJSON, oldest first',
      tag,
      query: AuditExportQuery,
      response: {
        status: 200,
        contentType: 'application/x-ndjson',
        schema: AuditEventView,
        description:
          'Every event the filters select as of the call, one AuditEvent JSON object a line, oldest first',
      },
      handle: async ({ query: q }) => Readable.from(ndjson(await query.export(q))),
    }),
    adminRoute({
      method: 'get',
      path: '/audit/verify',
      operationId: 'verifyAuditChain',
      summary: 'Verify the audit hash chain and its signed checkpoints',
      tag,
      response: {
        status: 200,
        description:
          'Whether the chain is intact and agrees with every checkpoint; otherwise the first break, named (edited, deleted, inserted, reordered, truncated, rewritten)',
        schema: AuditVerifyView,
      },
      // Seqs are int8 (a number from PGlite, a string from pg): always strings here.
      handle: async () => audit.verify(),
    }),
  ];
}
