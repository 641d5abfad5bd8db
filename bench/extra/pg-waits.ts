import pg from 'pg';

/**
 * What the PostgreSQL backends serving one database are doing, sampled from `pg_stat_activity`
 * every `everyMs` while `start()`…`stop()` runs: per sample, each backend is counted as `running`
 * (active, no wait event), `wait <type>:<event>` (e.g. `wait Lock:relation`: blocked on a table
 * lock), `idle in transaction` (a transaction is open and the application has not sent its next
 * statement yet) or `idle`. With `lockedTable`, a backend holding a granted lock on that table is
 * counted under `holds <table> lock, <state>` instead, which shows what the holder of a
 * serialising lock spends its time on. The shares show where a database-bound operation waits.
 *
 * The sampler itself connects to the server's maintenance database (`baseUrl`), so that its own
 * backend is not counted among (nor charged to) the watched database's.
 *
 * @param baseUrl any database of the same PostgreSQL server; `database` is the one watched.
 */
export async function pgActivitySampler(
  baseUrl: string,
  database: string,
  opts: { everyMs?: number; lockedTable?: string } = {},
) {
  const client = new pg.Client({ connectionString: baseUrl });
  await client.connect();
  const counts = new Map<string, number>();
  let samples = 0;
  let timer: NodeJS.Timeout | undefined;
  let inflight: Promise<unknown> | undefined;
  const lockedTable = opts.lockedTable ?? null;
  // The table's oid exists only once the server has migrated: looked up at the first start().
  let tableOid: number | null = null;
  const resolveTable = async () => {
    if (lockedTable === null || tableOid !== null) return;
    const url = new URL(baseUrl);
    url.pathname = `/${database}`;
    const inDb = new pg.Client({ connectionString: url.toString() });
    await inDb.connect();
    try {
      tableOid =
        (
          await inDb.query<{ oid: number | null }>('select to_regclass($1)::oid as oid', [
            lockedTable,
          ])
        ).rows[0]?.oid ?? null;
    } finally {
      await inDb.end();
    }
  };
  const take = async () => {
    const { rows } = await client.query<{
      state: string | null;
      wait_event_type: string | null;
      wait_event: string | null;
      holds: boolean;
    }>(
      `select a.state, a.wait_event_type, a.wait_event,
              exists (
                select 1 from pg_locks l
                where l.pid = a.pid and l.granted and l.locktype = 'relation' and l.database = a.datid and l.relation = $2::oid
                  and l.mode in ('ShareRowExclusiveLock', 'ExclusiveLock', 'AccessExclusiveLock')) as holds
       from pg_stat_activity a
       where a.datname = $1 and a.backend_type = 'client backend'`,
      [database, tableOid],
    );
    samples++;
    for (const r of rows) {
      const state =
        r.state === 'active'
          ? r.wait_event_type
            ? `wait ${r.wait_event_type}:${r.wait_event}`
            : 'running'
          : (r.state ?? 'unknown');
      const key = r.holds ? `holds ${lockedTable} lock, ${state}` : state;
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
  };
  return {
    async start() {
      await resolveTable();
      timer = setInterval(() => {
        inflight ??= take()
          .catch(() => undefined)
          .finally(() => (inflight = undefined));
      }, opts.everyMs ?? 20);
    },
    async stop() {
      clearInterval(timer);
      await inflight;
    },
    /** Average number of backends in each state per sample, busiest first. */
    report(): Array<[string, number]> {
      return [...counts]
        .map(([k, n]): [string, number] => [k, samples ? n / samples : 0])
        .sort((a, b) => b[1] - a[1]);
    },
    get samples() {
      return samples;
    },
    close: () => client.end(),
  };
}
