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
 * Prints errors and p50/p99 latency per kind, the resident memory (RSS) of both servers at start
 * (after a warm-up) and at the end and its growth, and the same per tenth of the run, to tell a
 * leak (steady growth) from a heap settling (a step, then flat).
 *
 * Environment: SOAK_SECONDS (600), SOAK_TOKEN_RATE (20/s), SOAK_ELEVATION_RATE (5/s),
 * SOAK_CALL_RATE (50/s), SOAK_USERS (10), SOAK_CALLERS (100), SOAK_WARMUP (seconds counted as
 * warm-up for the start RSS; default a tenth of the run, at most 60), BENCH_DATABASE_URL (default
 * postgres://postgres@127.0.0.1:5432/test; a scratch database is created next to it and dropped).
 */
import { postgresCpu } from './lib/postgres-cpu.ts';
import { createScratchDatabase } from './lib/scratch-database.ts';
import { envNumber, int, machineLoad, quantile } from './lib/stats.ts';
import { startChild, type RunningChild, type Sample } from './extra/ipc.ts';
import { openLoop, type RunResult } from './extra/load.ts';
import { machineBusyMicros } from './extra/machine-cpu.ts';
import { callTool, mcpHeaders, openSession } from './extra/mcp-client.ts';
import { RESOURCE, agentClient, clientCredentials, discover, elevate, loginUser, type ClientCredentials } from './extra/oauth.ts';

const TARGET_P99_MS = 50;
const TARGET_RSS_GROWTH = 0.1;
const seconds = envNumber('SOAK_SECONDS', 600);
const rates = { token: envNumber('SOAK_TOKEN_RATE', 20), elevation: envNumber('SOAK_ELEVATION_RATE', 5), call: envNumber('SOAK_CALL_RATE', 50) };
const userCount = Math.round(envNumber('SOAK_USERS', 10));
const callerCount = Math.round(envNumber('SOAK_CALLERS', 100));
const warmup = envNumber('SOAK_WARMUP', Math.min(60, seconds / 10));
const baseUrl = process.env.BENCH_DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/test';
const SLICES = 10;
/** In flight per kind beyond which an operation due is counted as an error instead of started. */
const MAX_IN_FLIGHT = 500;

type Kind = keyof typeof rates;
const KINDS: Kind[] = ['token', 'elevation', 'call'];
const LABELS: Record<Kind, string> = { token: 'client_credentials token', elevation: 'elevation (CIBA + poll)', call: 'tools/call (example server)' };
if (rates.call / callerCount > 1) console.warn(`note: ${rates.call / callerCount} calls/s per caller exceeds the verifier's default rate limit (1/s per principal and tool): expect -32003 errors`);

const agent: ClientCredentials = { id: 'soak-agent', secret: 'soak-agent-secret-value' };
const exampleClient: ClientCredentials = { id: 'example-mcp-server', secret: 'example-mcp-server-secret' };
const callers: ClientCredentials[] = Array.from({ length: callerCount }, (_, i) => ({ id: `soak-caller-${i}`, secret: `soak-caller-${i}-secret` }));
const developers = Array.from({ length: userCount }, (_, i) => ({ email: `dev${i}@soak.test`, password: 'developer password', roles: ['developer'] }));

/** One finished operation: when it started (s since the load began), how long it took, whether it worked. */
type Op = [startedAt: number, ms: number, ok: boolean];
const ops: Record<Kind, Op[]> = { token: [], elevation: [], call: [] };
const results: Partial<Record<Kind, RunResult>> = {};
/** Taken at the end of the warm-up and of every tenth: memory, and CPU counters to tell our load from others'. */
interface MemoryPoint { at: number; auth: Sample; example: Sample; driverRss: number; driverCpu: number; pg: Map<number, number>; machine?: number }
const memory: MemoryPoint[] = [];
/** Heap after a forced full collection (the live set): at the end of the warm-up and after the load. */
const liveHeap: { start?: [auth: number, example: number]; end?: [auth: number, example: number] } = {};

console.log(`soak: ${seconds} s of mixed load at a fixed rate: ${rates.token} tokens/s, ${rates.elevation} elevations/s (over ${userCount} developers), ${rates.call} tool calls/s (over ${callerCount} sessions)`);
console.log(`servers in child processes (mcp-elevate on PostgreSQL; the example MCP server with audit on), open-loop load here; warm-up ${warmup} s`);
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
  // --expose-gc: the live heap is measured after a forced collection twice (see liveHeap).
  auth = await startChild('mcp-elevate', new URL('./extra/auth-server.ts', import.meta.url), {
    DATABASE_URL: database.url,
    BENCH_SERVER_ENV: JSON.stringify({ CIBA_POLL_INTERVAL: '1' }),
    BENCH_FIXTURES: JSON.stringify({
      users: developers,
      clients: [
        agentClient(agent),
        { id: exampleClient.id, secret: exampleClient.secret, grantTypes: ['client_credentials'] },
        ...callers.map((c) => ({ id: c.id, secret: c.secret, roles: ['developer'] })),
      ],
    }),
  }, { exposeGc: true });
  const issuer = auth.info.url;
  example = await startChild('example MCP server', new URL('./extra/example-server.ts', import.meta.url), {
    BENCH_ISSUER: issuer, BENCH_RESOURCE: RESOURCE, BENCH_CLIENT_ID: exampleClient.id, BENCH_CLIENT_SECRET: exampleClient.secret,
  }, { exposeGc: true });
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
    elevation: (i) => elevate(endpoints, agent, devTokens[i % devTokens.length], 'mcp:deploy:staging', `soak elevation ${i}`),
    call: (i) => callTool(example!.info.url, sessions[i % sessions.length], i + 1, 'list_services'),
  };

  // Memory at the end of the warm-up and at every tenth of the run.
  const points = [warmup, ...Array.from({ length: SLICES }, (_, k) => ((k + 1) * seconds) / SLICES)].filter((t, i, a) => t <= seconds && a.indexOf(t) === i).sort((a, b) => a - b);
  const cpuNow = () => { const { user, system } = process.cpuUsage(); return user + system; };
  memory.push({ at: 0, auth: await auth.sample(), example: await example.sample(), driverRss: process.memoryUsage().rss, driverCpu: cpuNow(), pg: await pgCpu.sample(), machine: await machineBusyMicros() });
  const sampler = (async () => {
    for (const at of points) {
      const wait = loadStart + at * 1000 - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      memory.push({
        at, auth: await auth!.sample(), example: await example!.sample(), driverRss: process.memoryUsage().rss, driverCpu: cpuNow(),
        pg: await pgCpu.sample(), machine: await machineBusyMicros(),
      });
      // One forced collection during the load (a pause of tens of ms, once): the live set after warm-up.
      if (at === warmup) liveHeap.start = [(await auth!.sample({ gc: true })).heapUsed, (await example!.sample({ gc: true })).heapUsed];
    }
  })();
  await Promise.all(KINDS.map(async (kind) => {
    results[kind] = await openLoop({ rate: rates[kind], seconds, maxInFlight: MAX_IN_FLIGHT }, timed(kind, operations[kind]));
  }));
  await sampler;
  // Audit events still queued in the example server are delivered at its close; wait a moment for the last batch.
  await new Promise((r) => setTimeout(r, 2_000));
  auditAtEnd = (await example.sample()).extra;
  liveHeap.end = [(await auth.sample({ gc: true })).heapUsed, (await example.sample({ gc: true })).heapUsed];
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

console.log(`${''.padEnd(30)}${'done'.padStart(8)}${'rate/s'.padStart(8)}${'errors'.padStart(8)}${'p50 ms'.padStart(9)}${'p99 ms'.padStart(9)}${'max ms'.padStart(9)}`);
let errors = 0;
let worstP99 = 0;
for (const kind of KINDS) {
  const all = ops[kind];
  const ok = all.filter((o) => o[2]).map((o) => o[1]);
  const r = results[kind]!;
  errors += r.errors;
  worstP99 = Math.max(worstP99, ok.length ? quantile(ok, 0.99) : Infinity);
  console.log(`${LABELS[kind].padEnd(30)}${int(r.ok + r.errors).padStart(8)}${((r.ok + r.errors) / seconds).toFixed(1).padStart(8)}${String(r.errors).padStart(8)}${p(ok, 0.5).padStart(9)}${p(ok, 0.99).padStart(9)}${(ok.length ? ok.reduce((m, v) => Math.max(m, v), 0).toFixed(1) : '-').padStart(9)}`);
  for (const e of r.errorSamples) console.log(`  error: ${e}`);
}

console.log(`\np99 ms per tenth of the run; RSS and heap in use (MB) of the servers at its end; CPU cores used meanwhile by this benchmark (both servers, their PostgreSQL backends, the load generator) and by the whole machine`);
console.log(`${'until s'.padStart(8)}${KINDS.map((k) => k.padStart(11)).join('')}${'auth RSS'.padStart(10)}${'example RSS'.padStart(12)}${'auth heap'.padStart(10)}${'ex. heap'.padStart(10)}${'cores: ours'.padStart(13)}${'machine'.padStart(9)}`);
for (let k = 0; k < SLICES; k++) {
  const from = (k * seconds) / SLICES;
  const to = ((k + 1) * seconds) / SLICES;
  const m = memory.find((x) => Math.abs(x.at - to) < 1e-6);
  const prev = [...memory].reverse().find((x) => x.at < to - 1e-6 && x.at >= from - 1e-6) ?? memory.find((x) => x.at === 0);
  let ours = '-';
  let machine = '-';
  if (m && prev) {
    const wall = (m.at - prev.at) * 1e6;
    const used = (m.auth.cpuMicros - prev.auth.cpuMicros) + (m.example.cpuMicros - prev.example.cpuMicros) + (m.driverCpu - prev.driverCpu) + pgCpu.since(prev.pg, m.pg);
    ours = (used / wall).toFixed(2);
    if (m.machine !== undefined && prev.machine !== undefined) machine = ((m.machine - prev.machine) / wall).toFixed(2);
  }
  const cells = KINDS.map((kind) => p(ops[kind].filter((o) => o[2] && o[0] >= from && o[0] < to).map((o) => o[1]), 0.99).padStart(11));
  const mbOf = (v: number | undefined, w: number) => (v === undefined ? '-' : (v / 2 ** 20).toFixed(1)).padStart(w);
  console.log(`${to.toFixed(0).padStart(8)}${cells.join('')}${mbOf(m?.auth.rss, 10)}${mbOf(m?.example.rss, 12)}${mbOf(m?.auth.heapUsed, 10)}${mbOf(m?.example.heapUsed, 10)}${ours.padStart(13)}${machine.padStart(9)}`);
}

const start = memory.find((x) => Math.abs(x.at - warmup) < 1e-6) ?? memory[1];
const end = memory.at(-1)!;
const growth = (a: number, b: number) => (b - a) / a;
const authGrowth = growth(start.auth.rss, end.auth.rss);
const exampleGrowth = growth(start.example.rss, end.example.rss);
console.log(`\nRSS, mcp-elevate:   ${mb(launch!.rss)} before load, ${mb(start.auth.rss)} after ${warmup} s warm-up, ${mb(end.auth.rss)} at the end: ${pct(start.auth.rss, end.auth.rss)} since warm-up (${pct(launch!.rss, end.auth.rss)} since before load)`);
console.log(`RSS, example MCP:   ${mb(launchExample!.rss)} before load, ${mb(start.example.rss)} after ${warmup} s warm-up, ${mb(end.example.rss)} at the end: ${pct(start.example.rss, end.example.rss)} since warm-up (${pct(launchExample!.rss, end.example.rss)} since before load)`);
console.log(`RSS, load generator: ${mb(start.driverRss)} -> ${mb(end.driverRss)}`);
if (liveHeap.start && liveHeap.end) {
  const [a0, e0] = liveHeap.start;
  const [a1, e1] = liveHeap.end;
  console.log(`live heap after a forced full GC, after warm-up -> after the load: mcp-elevate ${mb(a0)} -> ${mb(a1)} (${pct(a0, a1)}), example MCP ${mb(e0)} -> ${mb(e1)} (${pct(e0, e1)})`);
}
const audit = auditAtEnd ?? {};
console.log(`audit events from the example server: ${int(audit.sent ?? 0)} accepted, ${audit.queued ?? 0} queued, ${audit.inFlight ?? 0} in flight, ${audit.dropped ?? 0} dropped, ${audit.rejected ?? 0} rejected, ${audit.failedAttempts ?? 0} failed attempts`);

const rssOk = Math.max(authGrowth, exampleGrowth) < TARGET_RSS_GROWTH;
const latencyOk = worstP99 < TARGET_P99_MS;
console.log(`targets: 0 errors ${errors === 0 ? 'met' : 'MISSED'}; p99 < ${TARGET_P99_MS} ms for every kind ${latencyOk ? 'met' : 'MISSED'}; RSS growth < ${TARGET_RSS_GROWTH * 100} % ${rssOk ? 'met' : 'MISSED'}`);
console.log(`\n${machineLoad()} (run took ${((performance.now() - started) / 1000).toFixed(0)} s in all)`);
const p99s = KINDS.map((k) => `${k} ${p(ops[k].filter((o) => o[2]).map((o) => o[1]), 0.99)}`).join(', ');
console.log(`summary: soak ${seconds} s, ${errors} errors; p99 ms ${p99s} (target ${TARGET_P99_MS} ${latencyOk ? 'met' : 'missed'}); RSS growth since warm-up mcp-elevate ${pct(start.auth.rss, end.auth.rss)}, example ${pct(start.example.rss, end.example.rss)} (target ${TARGET_RSS_GROWTH * 100} % ${rssOk ? 'met' : 'missed'})`);
