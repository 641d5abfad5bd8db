import pg from 'pg';

/**
 * What the PostgreSQL backends serving one database are doing, sampled from `pg_stat_activity`
 * every `everyMs` while `start()`…`stop()` runs: per sample, each backend is counted as `running`
 * (active, no wait event), `wait <type>:<event>` (e.g. `wait Lock:relation`: blocked on a table
 * lock), `idle in transaction` (the server holds a transaction open while it computes) or `idle`.
 * The shares show where a database-bound operation spends its time.
 */
export async function pgActivitySampler(baseUrl: string, database: string, everyMs = 20) {
  const client = new pg.Client({ connectionString: baseUrl });
  await client.connect();
  const counts = new Map<string, number>();
  let samples = 0;
  let timer: NodeJS.Timeout | undefined;
  let inflight: Promise<unknown> | undefined;
  const take = async () => {
    const { rows } = await client.query<{ state: string | null; wait_event_type: string | null; wait_event: string | null }>(
      'select state, wait_event_type, wait_event from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()', [database]);
    samples++;
    for (const r of rows) {
      const key = r.state === 'active'
        ? (r.wait_event_type ? `wait ${r.wait_event_type}:${r.wait_event}` : 'running')
        : (r.state ?? 'unknown');
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
  };
  return {
    start() {
      timer = setInterval(() => {
        inflight ??= take().catch(() => undefined).finally(() => (inflight = undefined));
      }, everyMs);
    },
    async stop() {
      clearInterval(timer);
      await inflight;
    },
    /** Average number of backends in each state per sample, busiest first. */
    report(): Array<[string, number]> {
      return [...counts].map(([k, n]): [string, number] => [k, samples ? n / samples : 0]).sort((a, b) => b[1] - a[1]);
    },
    get samples() {
      return samples;
    },
    close: () => client.end(),
  };
}
