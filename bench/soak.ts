/**
 * Soak: mixed load at a fixed rate for SOAK_SECONDS against mcp-elevate on PostgreSQL and the
 * example MCP server, each in its own child process, the load generated here (open loop: every
 * operation starts on schedule whatever the earlier ones are doing, so a slowing server shows as
 * latency). Three kinds of operation:
 * - token: a client_credentials token request by one of the MCP callers;
 * - elevation: a CIBA request for `mcp:deploy:staging` + the first poll, for one of SOAK_USERS
 *   developers whose base tokens the agent got through the real login pages;
 * - tool call: `tools/call list_services` on the example server, in one of SOAK_CALLERS sessions
 *   (one per client_credentials caller; each stays under the verifier's default rate limit of one
 *   call per second per principal and tool), so the verifier, its policy and audit (events sent
 *   to the authorization server) all run.
 * Prints errors and p50/p99 latency per kind and, per tenth of the run, both servers' memory:
 * - the live heap (heap in use after a forced full collection): what the program keeps. This is
 *   the figure that must stay flat after the warm-up (target: at most 5 % growth for each server);
 *   its slope after the warm-up is also given per minute and, for the example server, per call;
 * - the resident memory (RSS): it also holds what V8 has reserved, notably the young generation,
 *   whose semi-spaces grow with the allocation rate (by default up to 64 MB each: about 75 MB more
 *   RSS in the first minute under this load, then flat). RSS growth is therefore counted from the
 *   end of a warm-up long enough for that to settle (SOAK_WARMUP), or pin the semi-space size with
 *   SOAK_SEMI_SPACE_MB.
 * A leak shows as steady growth of the live heap; a heap settling as a step, then flat.
 *
 * Environment: SOAK_SECONDS (600), SOAK_TOKEN_RATE (20/s), SOAK_ELEVATION_RATE (5/s),
 * SOAK_CALL_RATE (50/s), SOAK_USERS (10), SOAK_CALLERS (100), SOAK_WARMUP (seconds of load
 * before the memory baseline; default 60, at most half the run), SOAK_SEMI_SPACE_MB (both servers'
 * `--max-semi-space-size`, MB; default V8's), BENCH_DATABASE_URL (default
 * postgres://postgres@127.0.0.1:5432/test; a scratch database is created next to it and dropped).
 */
import { postgresCpu } from './lib/postgres-cpu.ts';
import { createScratchDatabase } from './lib/scratch-database.ts';
import { envNumber, int, machineLoad, quantile } from './lib/stats.ts';
import { measuredAt } from './lib/commit.ts';
import { startChild, type RunningChild, type Sample } from './extra/ipc.ts';
import { openLoop, type RunResult } from './extra/load.ts';
import { machineBusyMicros } from './extra/machine-cpu.ts';
import { callTool, mcpHeaders, openSession } from './extra/mcp-client.ts';
import {
  RESOURCE,
  agentClient,
  clientCredentials,
  discover,
  elevate,
  loginUser,
  type ClientCredentials,
} from './extra/oauth.ts';

const TARGET_P99_MS = 50;
const TARGET_RSS_GROWTH = 0.1;
/** Live heap (after a full GC) growth allowed after the warm-up, per server. */
const TARGET_LIVE_HEAP_GROWTH = 0.05;
const seconds = envNumber('SOAK_SECONDS', 600);
const rates = {
  token: envNumber('SOAK_TOKEN_RATE', 20),
  elevation: envNumber('SOAK_ELEVATION_RATE', 5),
  call: envNumber('SOAK_CALL_RATE', 50),
};
const userCount = Math.round(envNumber('SOAK_USERS', 10));
const callerCount = Math.round(envNumber('SOAK_CALLERS', 100));
// Long enough for V8's young generation to reach its size under this load (see above).
const warmup = envNumber('SOAK_WARMUP', Math.min(60, seconds / 2));
const semiSpaceMb = process.env.SOAK_SEMI_SPACE_MB ? envNumber('SOAK_SEMI_SPACE_MB', 0) : undefined;
/** For both servers: the semi-space size, when pinned. */
const childNodeOptions: Record<string, string> =
  semiSpaceMb === undefined
    ? {}
    : {
        NODE_OPTIONS: [process.env.NODE_OPTIONS, `--max-semi-space-size=${semiSpaceMb}`]
          .filter(Boolean)
          .join(' '),
      };
const baseUrl = process.env.BENCH_DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/test';
const SLICES = 10;
/** In flight per kind beyond which an operation due is counted as an error instead of started. */
const MAX_IN_FLIGHT = 500;

type Kind = keyof typeof rates;
const KINDS: Kind[] = ['token', 'elevation', 'call'];
const LABELS: Record<Kind, string> = {
  token: 'client_credentials token',
  elevation: 'elevation (CIBA + poll)',
  call: 'tools/call (example server)',
};
if (rates.call / callerCount > 1)
  console.warn(
    `note: ${rates.call / callerCount} calls/s per caller exceeds the verifier's default rate limit (1/s per principal and tool): expect -32003 errors`,
  );

const agent: ClientCredentials = { id: 'soak-agent', secret: 'soak-agent-secret-value' };
const exampleClient: ClientCredentials = {
  id: 'example-mcp-server',
  secret: 'example-mcp-server-secret',
};
const callers: ClientCredentials[] = Array.from({ length: callerCount }, (_, i) => ({
  id: `soak-caller-${i}`,
  secret: `soak-caller-${i}-secret`,
}));
const developers = Array.from({ length: userCount }, (_, i) => ({
  email: `dev${i}@soak.test`,
  password: 'developer password',
  roles: ['developer'],
}));

/** One finished operation: when it started (s since the load began), how long it took, whether it worked. */
type Op = [startedAt: number, ms: number, ok: boolean];
const ops: Record<Kind, Op[]> = { token: [], elevation: [], call: [] };
const results: Partial<Record<Kind, RunResult>> = {};
/**
 * Taken at the end of the warm-up and of every tenth: memory, the live heap (heap in use after a
 * forced full collection, bytes; not at the start) and CPU counters to tell our load from others'.
 */
interface MemoryPoint {
  at: number;
  auth: Sample;
  example: Sample;
  live?: Live;
  driverRss: number;
  driverCpu: number;
  pg: Map<number, number>;
  machine?: number;
}
type Live = [auth: number, example: number];
const memory: MemoryPoint[] = [];
/** The live heap once the load has stopped and the last requests are done. */
let liveAfterLoad: Live | undefined;

console.log(
  `soak: ${seconds} s of mixed load at a fixed rate: ${rates.token} tokens/s, ${rates.elevation} elevations/s (over ${userCount} developers), ${rates.call} tool calls/s (over ${callerCount} sessions)`,
);
console.log(
  `servers in child processes (mcp-elevate on PostgreSQL; the example MCP server with audit on), open-loop load here; warm-up ${warmup} s`,
);
console.log(
  `young generation: ${semiSpaceMb === undefined ? "V8's default semi-space size (grows with load)" : `--max-semi-space-size=${semiSpaceMb} (MB)`}`,
);
const commit = measuredAt();
console.log(`measured at ${commit}`);
console.log(`${machineLoad()}\n`);

const database = await createScratchDatabase(baseUrl);
const pgCpu = await postgresCpu(baseUrl, database.name);
let auth: RunningChild | undefined;
let example: RunningChild | undefined;
let launch: Sample | undefined;
let launchExample: Sample | undefined;
let auditAtEnd: Record<string, number> | undefined;
const started = performance.now();
try {
  // --expose-gc: the live heap is measured after a forced full collection (see MemoryPoint).
  auth = await startChild(
    'mcp-elevate',
    new URL('./extra/auth-server.ts', import.meta.url),
    {
      ...childNodeOptions,
      DATABASE_URL: database.url,
      BENCH_SERVER_ENV: JSON.stringify({ CIBA_POLL_INTERVAL: '1' }),
      BENCH_FIXTURES: JSON.stringify({
        users: developers,
        clients: [
          agentClient(agent),
          {
            id: exampleClient.id,
            secret: exampleClient.secret,
            grantTypes: ['client_credentials'],
            // Audit ingest takes events only from the registered MCP server of their resource.
            mcpResource: RESOURCE,
          },
          ...callers.map((c) => ({ id: c.id, secret: c.secret, roles: ['developer'] })),
        ],
      }),
    },
    { exposeGc: true },
  );
  const issuer = auth.info.url;
  example = await startChild(
    'example MCP server',
    new URL('./extra/example-server.ts', import.meta.url),
    {
      ...childNodeOptions,
      BENCH_ISSUER: issuer,
      BENCH_RESOURCE: RESOURCE,
      BENCH_CLIENT_ID: exampleClient.id,
      BENCH_CLIENT_SECRET: exampleClient.secret,
    },
    { exposeGc: true },
  );
  const endpoints = await discover(issuer);
  const devTokens: string[] = [];
  for (const d of developers) devTokens.push(await loginUser(issuer, agent, d.email, d.password));
  const sessions: Array<Record<string, string>> = [];
  for (const c of callers) {
    const token = await clientCredentials(endpoints, c);
    sessions.push(mcpHeaders(token, await openSession(example.info.url, mcpHeaders(token))));
  }
  launch = await auth.sample();
  launchExample = await example.sample();

  const loadStart = performance.now();
  const timed = (kind: Kind, op: (i: number) => Promise<unknown>) => async (i: number) => {
    const t0 = performance.now();
    try {
      await op(i);
      ops[kind].push([(t0 - loadStart) / 1000, performance.now() - t0, true]);
    } catch (error) {
      ops[kind].push([(t0 - loadStart) / 1000, performance.now() - t0, false]);
      throw error;
    }
  };
  const operations: Record<Kind, (i: number) => Promise<unknown>> = {
    token: (i) => clientCredentials(endpoints, callers[i % callers.length]),
    elevation: (i) =>
      elevate(
        endpoints,
        agent,
        devTokens[i % devTokens.length],
        'mcp:deploy:staging',
        `soak elevation ${i}`,
      ),
    call: (i) => callTool(example!.info.url, sessions[i % sessions.length], i + 1, 'list_services'),
  };

  // Memory at the end of the warm-up and at every tenth of the run.
  const points = [warmup, ...Array.from({ length: SLICES }, (_, k) => ((k + 1) * seconds) / SLICES)]
    .filter((t, i, a) => t <= seconds && a.indexOf(t) === i)
    .sort((a, b) => a - b);
  const cpuNow = () => {
    const { user, system } = process.cpuUsage();
    return user + system;
  };
  memory.push({
    at: 0,
    auth: await auth.sample(),
    example: await example.sample(),
    driverRss: process.memoryUsage().rss,
    driverCpu: cpuNow(),
    pg: await pgCpu.sample(),
    machine: await machineBusyMicros(),
  });
  const sampler = (async () => {
    for (const at of points) {
      const wait = loadStart + at * 1000 - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      const point: MemoryPoint = {
        at,
        auth: await auth!.sample(),
        example: await example!.sample(),
        driverRss: process.memoryUsage().rss,
        driverCpu: cpuNow(),
        pg: await pgCpu.sample(),
        machine: await machineBusyMicros(),
      };
      // A forced full collection in each server (a pause of tens of ms, once a tenth): the live set.
      point.live = [
        (await auth!.sample({ gc: true })).heapUsed,
        (await example!.sample({ gc: true })).heapUsed,
      ];
      memory.push(point);
    }
  })();
  await Promise.all(
    KINDS.map(async (kind) => {
      results[kind] = await openLoop(
        { rate: rates[kind], seconds, maxInFlight: MAX_IN_FLIGHT },
        timed(kind, operations[kind]),
      );
    }),
  );
  await sampler;
  // Audit events still queued in the example server are delivered at its close; wait a moment for the last batch.
  await new Promise((r) => setTimeout(r, 2_000));
  auditAtEnd = (await example.sample()).extra;
  liveAfterLoad = [
    (await auth.sample({ gc: true })).heapUsed,
    (await example.sample({ gc: true })).heapUsed,
  ];
} finally {
  await example?.stop();
  await auth?.stop();
  await pgCpu.close();
  await database.drop();
}

// ---- report ----
const mb = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MB`;
const pct = (a: number, b: number) => `${b >= a ? '+' : ''}${(((b - a) / a) * 100).toFixed(1)} %`;
const p = (ms: number[], q: number) => (ms.length ? quantile(ms, q).toFixed(1) : '-');

console.log(
  `${''.padEnd(30)}${'done'.padStart(8)}${'rate/s'.padStart(8)}${'errors'.padStart(8)}${'p50 ms'.padStart(9)}${'p99 ms'.padStart(9)}${'max ms'.padStart(9)}`,
);
let errors = 0;
let worstP99 = 0;
for (const kind of KINDS) {
  const all = ops[kind];
  const ok = all.filter((o) => o[2]).map((o) => o[1]);
  const r = results[kind]!;
  errors += r.errors;
  worstP99 = Math.max(worstP99, ok.length ? quantile(ok, 0.99) : Infinity);
  console.log(
    `${LABELS[kind].padEnd(30)}${int(r.ok + r.errors).padStart(8)}${((r.ok + r.errors) / seconds).toFixed(1).padStart(8)}${String(r.errors).padStart(8)}${p(ok, 0.5).padStart(9)}${p(ok, 0.99).padStart(9)}${(ok.length ? ok.reduce((m, v) => Math.max(m, v), 0).toFixed(1) : '-').padStart(9)}`,
  );
  for (const e of r.errorSamples) console.log(`  error: ${e}`);
}

console.log(
  `\np99 ms per tenth of the run; RSS and live heap (heap in use after a forced full GC), MB, of the servers at its end; CPU cores used meanwhile by this benchmark (both servers, their PostgreSQL backends, the load generator) and by the whole machine`,
);
console.log(
  `${'until s'.padStart(8)}${KINDS.map((k) => k.padStart(11)).join('')}${'auth RSS'.padStart(10)}${'example RSS'.padStart(12)}${'auth live'.padStart(10)}${'ex. live'.padStart(10)}${'cores: ours'.padStart(13)}${'machine'.padStart(9)}`,
);
for (let k = 0; k < SLICES; k++) {
  const from = (k * seconds) / SLICES;
  const to = ((k + 1) * seconds) / SLICES;
  const m = memory.find((x) => Math.abs(x.at - to) < 1e-6);
  const prev =
    [...memory].reverse().find((x) => x.at < to - 1e-6 && x.at >= from - 1e-6) ??
    memory.find((x) => x.at === 0);
  let ours = '-';
  let machine = '-';
  if (m && prev) {
    const wall = (m.at - prev.at) * 1e6;
    const used =
      m.auth.cpuMicros -
      prev.auth.cpuMicros +
      (m.example.cpuMicros - prev.example.cpuMicros) +
      (m.driverCpu - prev.driverCpu) +
      pgCpu.since(prev.pg, m.pg);
    ours = (used / wall).toFixed(2);
    if (m.machine !== undefined && prev.machine !== undefined)
      machine = ((m.machine - prev.machine) / wall).toFixed(2);
  }
  const cells = KINDS.map((kind) =>
    p(
      ops[kind].filter((o) => o[2] && o[0] >= from && o[0] < to).map((o) => o[1]),
      0.99,
    ).padStart(11),
  );
  const mbOf = (v: number | undefined, w: number) =>
    (v === undefined ? '-' : (v / 2 ** 20).toFixed(1)).padStart(w);
  console.log(
    `${to.toFixed(0).padStart(8)}${cells.join('')}${mbOf(m?.auth.rss, 10)}${mbOf(m?.example.rss, 12)}${mbOf(m?.live?.[0], 10)}${mbOf(m?.live?.[1], 10)}${ours.padStart(13)}${machine.padStart(9)}`,
  );
}

const start = memory.find((x) => Math.abs(x.at - warmup) < 1e-6) ?? memory[1];
const end = memory.at(-1)!;
const growth = (a: number, b: number) => (b - a) / a;
const authGrowth = growth(start.auth.rss, end.auth.rss);
const exampleGrowth = growth(start.example.rss, end.example.rss);
console.log(
  `\nRSS, mcp-elevate:   ${mb(launch!.rss)} before load, ${mb(start.auth.rss)} after ${warmup} s warm-up, ${mb(end.auth.rss)} at the end: ${pct(start.auth.rss, end.auth.rss)} since warm-up (${pct(launch!.rss, end.auth.rss)} since before load)`,
);
console.log(
  `RSS, example MCP:   ${mb(launchExample!.rss)} before load, ${mb(start.example.rss)} after ${warmup} s warm-up, ${mb(end.example.rss)} at the end: ${pct(start.example.rss, end.example.rss)} since warm-up (${pct(launchExample!.rss, end.example.rss)} since before load)`,
);
console.log(`RSS, load generator: ${mb(start.driverRss)} -> ${mb(end.driverRss)}`);

// Live heap: growth from the end of the warm-up to the last tenth, and least-squares slopes over
// the points since the warm-up, against time and against tool calls answered (steady growth is a
// leak; noise has no trend). Per call, not per second: a server that falls behind answers fewer.
const settled = memory.filter((x) => x.at >= warmup - 1e-6 && x.live !== undefined);
const callsBy = (at: number) => ops.call.filter((o) => o[2] && o[0] + o[1] / 1000 <= at).length;
const slope = (server: 0 | 1, x: (m: MemoryPoint) => number) => {
  const n = settled.length;
  const mx = settled.reduce((a, m) => a + x(m), 0) / n;
  const my = settled.reduce((a, m) => a + m.live![server], 0) / n;
  const sxx = settled.reduce((a, m) => a + (x(m) - mx) ** 2, 0);
  return sxx === 0
    ? 0
    : settled.reduce((a, m) => a + (x(m) - mx) * (m.live![server] - my), 0) / sxx;
};
const liveGrowth = [0, 1].map((k) => growth(start.live![k], end.live![k]));
const liveOk = liveGrowth.map((g) => g <= TARGET_LIVE_HEAP_GROWTH);
const perMinute = (bytesPerSecond: number) =>
  `${bytesPerSecond >= 0 ? '+' : ''}${((bytesPerSecond * 60) / 2 ** 20).toFixed(2)} MB/min`;
const names = ['mcp-elevate', 'example MCP'];
for (const k of [0, 1] as const) {
  const perCall =
    k === 1
      ? `, ${(slope(1, (m) => callsBy(m.at)) / 1024).toFixed(2)} KB per tool call answered`
      : '';
  const after = liveAfterLoad ? `; ${mb(liveAfterLoad[k])} after the load` : '';
  console.log(
    `live heap, ${names[k]}: ${mb(start.live![k])} after ${warmup} s warm-up, ${mb(end.live![k])} at the end: ${pct(start.live![k], end.live![k])} (target ≤ ${TARGET_LIVE_HEAP_GROWTH * 100} % ${liveOk[k] ? 'met' : 'MISSED'}); trend since warm-up ${perMinute(slope(k, (m) => m.at))}${perCall}${after}`,
  );
}
const audit = auditAtEnd ?? {};
console.log(
  `audit events from the example server: ${int(audit.sent ?? 0)} accepted, ${audit.queued ?? 0} queued, ${audit.inFlight ?? 0} in flight, ${audit.dropped ?? 0} dropped, ${audit.rejected ?? 0} rejected, ${audit.failedAttempts ?? 0} failed attempts`,
);

const rssOk = Math.max(authGrowth, exampleGrowth) < TARGET_RSS_GROWTH;
const latencyOk = worstP99 < TARGET_P99_MS;
const verdict = (ok: boolean, missed = 'MISSED') => (ok ? 'met' : missed);
const liveTarget = `≤ ${TARGET_LIVE_HEAP_GROWTH * 100} %`;
console.log(
  `targets: 0 errors ${verdict(errors === 0)}; p99 < ${TARGET_P99_MS} ms for every kind ${verdict(latencyOk)}; live heap growth after warm-up ${liveTarget}: mcp-elevate ${verdict(liveOk[0])}, example ${verdict(liveOk[1])}; RSS growth after warm-up < ${TARGET_RSS_GROWTH * 100} % ${verdict(rssOk)}`,
);
console.log(
  `\n${machineLoad()} (run took ${((performance.now() - started) / 1000).toFixed(0)} s in all)`,
);
const p99s = KINDS.map(
  (k) =>
    `${k} ${p(
      ops[k].filter((o) => o[2]).map((o) => o[1]),
      0.99,
    )}`,
).join(', ');
console.log(
  `summary: soak ${seconds} s, ${errors} errors (target 0 ${verdict(errors === 0, 'missed')}); p99 ms ${p99s} (target ${TARGET_P99_MS} ${verdict(latencyOk, 'missed')}); live heap after GC since ${warmup} s warm-up mcp-elevate ${pct(start.live![0], end.live![0])} (target ${liveTarget} ${verdict(liveOk[0], 'missed')}), example ${pct(start.live![1], end.live![1])} (target ${liveTarget} ${verdict(liveOk[1], 'missed')}); RSS since warm-up mcp-elevate ${pct(start.auth.rss, end.auth.rss)}, example ${pct(start.example.rss, end.example.rss)} (target < ${TARGET_RSS_GROWTH * 100} % ${verdict(rssOk, 'missed')}); measured at ${commit}`,
);
