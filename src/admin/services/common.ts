import type { AuditInput } from '../../audit/audit-log.ts';
import type { AdminActor } from '../auth.ts';

/**
 * The audit event of an admin change: the admin is the actor, the client they used is recorded,
 * `data` describes the change (AuditLog redacts secrets in it).
 */
export function adminEvent(
  actor: AdminActor,
  action: string,
  data: Record<string, unknown>,
  subject?: string,
): AuditInput {
  return {
    action,
    result: 'success',
    actor: actor.userId,
    clientId: actor.clientId ?? null,
    subject: subject ?? null,
    data,
  };
}

/** True for PostgreSQL's foreign key violation (SQLSTATE 23503): a concurrent change won a race. */
export function isForeignKeyViolation(err: unknown): boolean {
  return (err as { code?: unknown } | null)?.code === '23503';
}

/** True for PostgreSQL's unique violation (SQLSTATE 23505). */
export function isUniqueViolation(err: unknown): boolean {
  return (err as { code?: unknown } | null)?.code === '23505';
}

/** A timestamp column's value as a Date (schema.ts types `Generated<Timestamp>` columns loosely). */
export function asDate(value: unknown): Date {
  return value instanceof Date ? value : new Date(value as string);
}
