import { createHash } from 'node:crypto';
import { canonicalJson } from '../policy/index.ts';

/**
 * The audit chain's hashes. Each event is hashed over its predecessor's hash, its own `seq` and
 * its canonical JSON, so changing, removing, inserting, renumbering or reordering a row breaks
 * the chain at that row unless every later row is re-hashed (which only a signed checkpoint can
 * then reveal; see `checkpoints.ts`).
 * @module
 */

/** Hash of the first event's predecessor. */
export const GENESIS = '0'.repeat(64);

/** The fields of an event that its hash covers (besides its predecessor's hash and `seq`). */
export interface HashedEvent {
  id: string;
  time: Date;
  actor: string | null;
  action: string;
  result: string;
  subject: string | null;
  client_id: string | null;
  resource: string | null;
  data: unknown;
}

function body(e: HashedEvent): string {
  return canonicalJson({
    id: e.id,
    time: e.time.toISOString(),
    actor: e.actor,
    action: e.action,
    result: e.result,
    subject: e.subject,
    client_id: e.client_id,
    resource: e.resource,
    data: e.data,
  });
}

/**
 * The hash events chained before `seq` was covered carried: SHA-256 over the previous hash and
 * the event's canonical JSON. Still accepted for those rows; a row hashed this way may have a
 * gap in `seq` before it (the sequence of that time could skip numbers).
 */
export function eventHash(prevHash: string, e: HashedEvent): string {
  return createHash('sha256').update(prevHash).update('\n').update(body(e)).digest('hex');
}

/**
 * The hash of the event at `seq`: SHA-256 over the previous hash, `seq` in decimal and the
 * event's canonical JSON, separated by newlines. Events hashed this way have dense `seq`
 * (each one's is its predecessor's plus one, the first one's 1).
 */
export function sealedHash(prevHash: string, seq: number, e: HashedEvent): string {
  return createHash('sha256').update(`${prevHash}\n${seq}\n`).update(body(e)).digest('hex');
}

/** How a stored row's hash matches its content: `sealed` (covers its seq), `legacy`, or not at all. */
export function hashForm(row: HashedEvent & { seq: number; prev_hash: string; hash: string }) {
  if (sealedHash(row.prev_hash, row.seq, row) === row.hash) return 'sealed' as const;
  if (eventHash(row.prev_hash, row) === row.hash) return 'legacy' as const;
  return undefined;
}
