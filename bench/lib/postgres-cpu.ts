import { execFileSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import pg from 'pg';

let ticksPerSecond: number | undefined;

function clockTicks(): number {
  if (ticksPerSecond === undefined) {
    try {
      ticksPerSecond =
        Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      ticksPerSecond = 100;
    }
  }
  return ticksPerSecond;
}

/** user + system CPU of a process from /proc/<pid>/stat, microseconds; undefined when gone or unreadable. */
async function processCpuMicros(pid: number): Promise<number | undefined> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    // The command name (2nd field) may hold spaces; fields after its closing parenthesis are fixed.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) / clockTicks()) * 1e6;
  } catch {
    return undefined;
  }
}

/**
 * CPU spent by the PostgreSQL backends serving one database, when PostgreSQL runs on this machine
 * (its backends visible in /proc). `sample()` gives CPU per backend pid; `since(before)` the CPU
 * used since that sample, counting backends that appeared meanwhile from zero. Backends that
 * ended in between are lost, so sample around short stretches of steady load.
 */
export async function postgresCpu(baseUrl: string, database: string) {
  const client = new pg.Client({ connectionString: baseUrl });
  await client.connect();
  let visible: boolean | undefined;
  const sample = async (): Promise<Map<number, number>> => {
    const { rows } = await client.query<{ pid: number }>(
      'select pid from pg_stat_activity where datname = $1',
      [database],
    );
    const entries = await Promise.all(
      rows.map(async ({ pid }) => [pid, await processCpuMicros(pid)] as const),
    );
    const known = entries.filter((e): e is readonly [number, number] => e[1] !== undefined);
    visible ??= rows.length === 0 ? undefined : known.length > 0;
    return new Map(known);
  };
  return {
    sample,
    since(before: Map<number, number>, after: Map<number, number>): number {
      let total = 0;
      for (const [pid, micros] of after) total += micros - (before.get(pid) ?? 0);
      return total;
    },
    /** False when PostgreSQL's backends are not visible from here (another host or container). */
    get visible() {
      return visible !== false;
    },
    close: () => client.end(),
  };
}
