/**
 * The audit event of a tool decision or invocation (ARCHITECTURE.md §7.7). It lives beside the other
 * observability outputs so that the MCP integration (which produces events) and the audit client
 * (which ships them) share one definition without depending on each other.
 */
import type { Decision } from '../../policy/index.ts';

/** Outcome recorded by an audit event. */
export type AuditResult = 'success' | 'failure' | 'denied';

/** Authorization decision recorded with an event: the kind of the policy engine's `Decision`. */
export type AuditDecision = Decision['decision'];

/** What a producer supplies; the audit client adds `id` and `time` and redacts `params`. */
export interface AuditEventInput {
  /** The user (or, for client_credentials, the client) the call was made for. */
  subject: string;
  /** OAuth client (agent) that made the call. */
  clientId: string;
  /** Tool name. */
  tool: string;
  /** Tool arguments; redacted before they are queued. */
  params: unknown;
  /** Outcome. `denied` events are flushed at once. */
  result: AuditResult;
  /** Elevation id when the call ran under an elevated token. */
  elevation?: string;
  /** Flush at once rather than with the next batch (e.g. destructive tools, elevated calls). */
  critical?: boolean;
  /** Authorization decision that led to this event. */
  decision?: AuditDecision;
}

/** An event as sent to the server's ingest endpoint; `id` makes ingestion idempotent. */
export interface AuditEvent extends AuditEventInput {
  /** Random UUID (v4). */
  id: string;
  /** ISO 8601 time the event was recorded. */
  time: string;
}

/** Anything that accepts audit events, such as the client of `createAuditClient`. */
export interface AuditSink {
  /** Queues an event; must not throw or block the tool call. */
  record(event: AuditEventInput): unknown;
}
