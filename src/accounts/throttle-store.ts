import { createRequire } from 'node:module';
import { sql, type Kysely } from 'kysely';
import rateLimiterFlexible from 'rate-limiter-flexible';
import type { IRateLimiterOptions, RateLimiterRes as Res } from 'rate-limiter-flexible';
import type { Database } from '../db/schema.ts';

const { RateLimiterRes } = rateLimiterFlexible;
// The store base class is typed by the package but not exported from its index.
const RateLimiterStoreAbstract = createRequire(import.meta.url)(
  'rate-limiter-flexible/lib/RateLimiterStoreAbstract.js',
) as typeof rateLimiterFlexible.RateLimiterStoreAbstract;

/** What one counter statement returns: the points counted so far and ms until they reset (-1: never). */
interface Counter {
  points: number;
  ms_left: number;
}

// The database's clock decides every expiry, so instances with drifting clocks count alike.
const msLeft = sql<number>`case when expires_at is null then -1
  else greatest(0, ceil(extract(epoch from expires_at - now()) * 1000))::float8 end`;

/**
 * rate-limiter-flexible's store contract on our `login_throttle` table through kysely, so one
 * counter is shared by every server instance on the database (ARCHITECTURE.md §8) and works alike on
 * PostgreSQL and embedded PGlite.
 *
 * Why not the library's own `RateLimiterPostgres`: it creates its table at run time (our schema
 * comes from frozen migrations), speaks only to a `pg` pool or client through named prepared
 * statements (PGlite has neither), and would open a second connection path beside kysely's. The
 * statements below are the same upsert: a counter past its expiry starts again from the new
 * points; otherwise points add up and the expiry stays.
 */
export class RateLimiterKysely extends RateLimiterStoreAbstract {
  readonly #db: Kysely<Database>;

  /** @param opts - rate-limiter-flexible options (`points`, `duration` in seconds, `keyPrefix`). */
  constructor(db: Kysely<Database>, opts: IRateLimiterOptions) {
    super({ ...opts, storeClient: db });
    this.#db = db;
  }

  async _upsert(
    key: string,
    points: number,
    msDuration: number,
    forceExpire = false,
  ): Promise<Counter> {
    const expires =
      msDuration > 0 ? sql`now() + ${msDuration}::float8 * interval '1 millisecond'` : sql`null`;
    const restart = sql<boolean>`(login_throttle.expires_at <= now() or ${forceExpire}::boolean)`;
    const { rows } = await sql<Counter>`
      insert into login_throttle (key, points, expires_at) values (${key}, ${points}, ${expires})
      on conflict (key) do update set
        points = case when ${restart} then excluded.points else login_throttle.points + excluded.points end,
        expires_at = case when ${restart} then excluded.expires_at else login_throttle.expires_at end
      returning points, ${msLeft} as ms_left`.execute(this.#db);
    return rows[0]!;
  }

  async _get(key: string): Promise<Counter | null> {
    const row = await this.#db
      .selectFrom('login_throttle')
      .select(['points', msLeft.as('ms_left')])
      .where('key', '=', key)
      .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', sql<Date>`now()`)]))
      .executeTakeFirst();
    return row ?? null;
  }

  async _delete(key: string): Promise<boolean> {
    const res = await this.#db
      .deleteFrom('login_throttle')
      .where('key', '=', key)
      .executeTakeFirst();
    return res.numDeletedRows > 0n;
  }

  _getRateLimiterRes(_key: string, changedPoints: number, row: Counter): Res {
    const consumed = Number(row.points);
    return new RateLimiterRes(
      Math.max(this.points - consumed, 0),
      Number(row.ms_left),
      consumed,
      changedPoints === consumed,
    );
  }
}

/** Deletes counters past their expiry (run by the periodic cleanup). Returns how many went. */
export async function deleteExpiredCounters(db: Kysely<Database>): Promise<number> {
  const res = await db
    .deleteFrom('login_throttle')
    .where('expires_at', '<=', sql<Date>`now()`)
    .executeTakeFirst();
  return Number(res.numDeletedRows);
}
