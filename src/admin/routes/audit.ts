import type { AuditLog } from '../../audit/audit-log.ts';
import { adminRoute, type AnyRoute } from '../route.ts';
import { AuditVerifyView } from '../presenters.ts';

/** `/audit`: checks of the hash-chained audit log. */
export function auditRoutes(audit: AuditLog): AnyRoute[] {
  return [
    adminRoute({
      method: 'get', path: '/audit/verify', operationId: 'verifyAuditChain', summary: 'Verify the audit hash chain', tag: 'audit',
      response: { status: 200, description: 'Whether every event still matches its hash; the first broken one otherwise', schema: AuditVerifyView },
      handle: async () => {
        const result = await audit.verify();
        if (result.ok) return { ok: true, count: result.count };
        // int8 `seq` arrives as a number from PGlite and as a string from pg: always a string here.
        const { seq, id, reason } = result.brokenAt;
        return { ok: false, count: result.count, brokenAt: { seq: String(seq), id, reason } };
      },
    }),
  ];
}
