/**
 * Token endpoint throughput: client_credentials grants per second of mcp-elevate on PostgreSQL
 * versus bare oidc-provider (in-memory adapter), same machine, same run, same ES256 JWT access
 * tokens for the same resource, same autocannon settings. Each server runs in its own child
 * process; autocannon runs here. After a warm-up of each, the measured time of each server is
 * split in two halves run in the order ours, bare, bare, ours, so that a change in background
 * load during the run weighs on both alike. Also counts the SQL statements a token request costs us.
 *
 * Environment: BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/test; a scratch
 * database is created next to it and dropped), BENCH_CONNECTIONS (10), BENCH_DURATION (10 s per
 * server), BENCH_WARMUP (2 s per server), BENCH_CPU_PROF (a folder: write CPU profiles of both
 * servers' measured segments there and print where each spends its time per request; profiling
 * slows both, so ignore that run's req/s).
 */
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import autocannon from 'autocannon';
import { createScratchDatabase } from './lib/scratch-database.ts';
import { compareProfiles, summariseProfile } from './lib/cpu-profile.ts';
import { envNumber, int, machineLoad, quantile, verdict } from './lib/stats.ts';
import { measuredAt } from './lib/commit.ts';
import { postgresCpu } from './lib/postgres-cpu.ts';
import { RESOURCE } from './token/protocol.ts';
import { startTarget, type RunningTarget } from './token/driver.ts';

const TARGET_RATIO = 0.8;
const connections = envNumber('BENCH_CONNECTIONS', 10);
const duration = envNumber('BENCH_DURATION', 10);
const warmup = envNumber('BENCH_WARMUP', 2);
const baseUrl = process.env.BENCH_DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/test';
const profileDir = process.env.BENCH_CPU_PROF ? resolve(process.env.BENCH_CPU_PROF) : undefined;

/** What one server did over all its measured segments. */
interface Tally {
  label: string;
  requests: number;
  seconds: number;
  non2xx: number;
  errors: number;
  latenciesMs: number[];
  /** CPU of the server process, and of the PostgreSQL backends serving it. */
  cpuMicros: number;
  postgresMicros?: number;
  statements: Map<string, number>;
}

const tally = (label: string, withPostgres: boolean): Tally => ({
  label,
  requests: 0,
  seconds: 0,
  non2xx: 0,
  errors: 0,
  latenciesMs: [],
  cpuMicros: 0,
  statements: new Map(),
  ...(withPostgres ? { postgresMicros: 0 } : {}),
});

type PostgresCpu = Awaited<ReturnType<typeof postgresCpu>>;

/** Loads `target` for `seconds`; with a tally, adds what happened meanwhile to it. */
async function load(
  target: RunningTarget,
  seconds: number,
  t?: Tally,
  pgCpu?: PostgresCpu,
): Promise<void> {
  const before = t && (await target.sample());
  const pgBefore = t && pgCpu && (await pgCpu.sample());
  const instance = autocannon({ ...target.request, connections, duration: seconds });
  if (t) instance.on('response', (_client, _status, _bytes, ms) => t.latenciesMs.push(ms));
  const result = await instance;
  if (!t || !before) return;
  const after = await target.sample();
  if (pgBefore && pgCpu && t.postgresMicros !== undefined)
    t.postgresMicros += pgCpu.since(pgBefore, await pgCpu.sample());
  t.cpuMicros += after.cpuMicros - before.cpuMicros;
  const earlier = new Map(before.statements);
  for (const [sql, n] of after.statements)
    t.statements.set(sql, (t.statements.get(sql) ?? 0) + n - (earlier.get(sql) ?? 0));
  t.requests += result.requests.total;
  t.seconds += result.duration;
  t.non2xx += result.non2xx;
  t.errors += result.errors + result.timeouts;
}

const reqPerSec = (t: Tally) => t.requests / t.seconds;
const cpuPerRequest = (micros: number | undefined, t: Tally) =>
  micros === undefined ? '-' : int(micros / t.requests);
const row = (t: Tally) =>
  [
    t.label.padEnd(30),
    int(reqPerSec(t)).padStart(9),
    quantile(t.latenciesMs, 0.5).toFixed(1).padStart(9),
    quantile(t.latenciesMs, 0.99).toFixed(1).padStart(9),
    String(t.non2xx).padStart(9),
    String(t.errors).padStart(8),
    cpuPerRequest(t.cpuMicros, t).padStart(12),
    cpuPerRequest(t.postgresMicros, t).padStart(12),
  ].join('');

console.log(`token endpoint: client_credentials, ES256 JWT access token for ${RESOURCE}`);
console.log(
  `autocannon ${connections} connections; per server ${warmup} s warm-up, then ${duration} s measured in two halves (ours, bare, bare, ours)`,
);
const commit = measuredAt();
console.log(`measured at ${commit}`);
console.log(`${machineLoad()}\n`);

const database = await createScratchDatabase(baseUrl);
const pgCpu = await postgresCpu(baseUrl, database.name);
const targets: RunningTarget[] = [];
const ours = tally('mcp-elevate (PostgreSQL)', true);
const bare = tally('bare oidc-provider (memory)', false);
try {
  const oursTarget = await startTarget(ours.label, './serve-ours.ts', {
    DATABASE_URL: database.url,
  });
  targets.push(oursTarget);
  const bareTarget = await startTarget(bare.label, './serve-bare.ts', {});
  targets.push(bareTarget);

  await load(oursTarget, warmup);
  await load(bareTarget, warmup);
  if (profileDir) [oursTarget, bareTarget].forEach((t) => t.profileStart());
  for (const [target, t] of [
    [oursTarget, ours],
    [bareTarget, bare],
    [bareTarget, bare],
    [oursTarget, ours],
  ] as const) {
    await load(target, duration / 2, t, pgCpu);
  }
  if (profileDir) {
    await mkdir(profileDir, { recursive: true });
    await oursTarget.profileStop(join(profileDir, 'ours.cpuprofile'));
    await bareTarget.profileStop(join(profileDir, 'bare.cpuprofile'));
  }
} finally {
  await Promise.allSettled(targets.map((t) => t.stop()));
  await pgCpu.close();
  await database.drop();
}
if (!pgCpu.visible) delete ours.postgresMicros;

console.log(
  `${''.padEnd(30)}${'req/s'.padStart(9)}${'p50 ms'.padStart(9)}${'p99 ms'.padStart(9)}${'non-2xx'.padStart(9)}${'errors'.padStart(8)}${'CPU µs/req'.padStart(12)}${'PG µs/req'.padStart(12)}`,
);
console.log(row(ours));
console.log(row(bare));
const ratio = reqPerSec(ours) / reqPerSec(bare);
console.log(`ratio ours/bare: ${verdict(ratio, TARGET_RATIO)}`);
console.log(
  '(CPU µs/req: CPU time of the server process per request; PG µs/req: of the PostgreSQL backends serving it)\n',
);

const statements = [...ours.statements].filter(([, n]) => n > 0).sort((a, b) => b[1] - a[1]);
const perRequest = statements.reduce((sum, [, n]) => sum + n, 0) / ours.requests;
console.log(
  `SQL statements per token request (mcp-elevate, measured segments, ${int(ours.requests)} requests; background workers included):`,
);
for (const [sql, n] of statements)
  console.log(`  ${(n / ours.requests).toFixed(4).padStart(8)}  ${sql.replace(/\s+/g, ' ')}`);
console.log(`  ${perRequest.toFixed(4).padStart(8)}  total\n`);

if (profileDir) {
  const [p, q] = await Promise.all([
    summariseProfile(join(profileDir, 'ours.cpuprofile')),
    summariseProfile(join(profileDir, 'bare.cpuprofile')),
  ]);
  console.log(
    `CPU profiles of the measured segments (${profileDir}/{ours,bare}.cpuprofile; profiling slows both, so ignore this run's req/s)`,
  );
  console.log(
    `self time per request in µs: ours, bare, difference; ${int((p.totalMs * 1000) / ours.requests)} vs ${int((q.totalMs * 1000) / bare.requests)} µs in all`,
  );
  console.log('by owner:');
  for (const line of compareProfiles(p.byOwner, ours.requests, q.byOwner, bare.requests, 15))
    console.log(`  ${line}`);
  console.log('by function:');
  for (const line of compareProfiles(p.byFunction, ours.requests, q.byFunction, bare.requests, 25))
    console.log(`  ${line}`);
  console.log();
}

console.log(`${machineLoad()}`);
console.log(
  `summary: token endpoint ${int(reqPerSec(ours))} req/s (mcp-elevate, PostgreSQL) vs ${int(reqPerSec(bare))} req/s (bare oidc-provider), ratio ${ratio.toFixed(2)} (target ${TARGET_RATIO} ${ratio >= TARGET_RATIO ? 'met' : 'missed'}); CPU per request ${cpuPerRequest(ours.cpuMicros, ours)} µs + PostgreSQL ${cpuPerRequest(ours.postgresMicros, ours)} µs vs ${cpuPerRequest(bare.cpuMicros, bare)} µs; ${perRequest.toFixed(2)} SQL statements per request; measured at ${commit}`,
);
