import { sql, type Kysely } from 'kysely';
import type { Database } from '../../db/schema.ts';

/** A little slack for clocks and scheduling: a client waiting exactly `interval` is not punished. */
const SLACK_MS = 250;

/**
 * `slow_down` (CIBA §11, RFC 8628 §3.5): whether this poll for `authReqId` came sooner than
 * `intervalSeconds` after the previous one. Records this poll's time either way. The last poll
 * time lives in the database so that it holds across instances; `now` is the server's clock.
 */
export async function pollTooSoon(
  db: Kysely<Database>,
  authReqId: string,
  intervalSeconds: number,
  now: Date,
): Promise<boolean> {
  const row = await sql<{ prev: Date | null }>`
    with prev as (select polled_at from ciba_poll where auth_req_id = ${authReqId})
    insert into ciba_poll (auth_req_id, polled_at) values (${authReqId}, ${now})
    on conflict (auth_req_id) do update set polled_at = ${now}
    returning (select polled_at from prev) as prev`.execute(db);
  const prev = row.rows[0]?.prev;
  return (
    prev !== null &&
    prev !== undefined &&
    now.getTime() - new Date(prev).getTime() < intervalSeconds * 1000 - SLACK_MS
  );
}
