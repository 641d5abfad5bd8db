/**
 * Gateway overhead: `tools/call list_services` (stateless MCP SDK server, JSON answers) sent
 * (i) directly to the upstream, (ii) through `mcp-elevate gateway` (bearer token verified once and
 * cached, policy decision, tool pipeline with span, metrics, rate limit, breaker and timeout, the
 * token stripped) and (iii) through a plain reverse proxy on undici (proxying alone, no checks), in
 * one run. Each server runs in its own child process, autocannon here; the three run in turns
 * (i ii iii, then iii ii i, …) so that a change in background load weighs on all. Then a 200 MB
 * answer streams through the gateway, after a warm-up transfer of half that size, while its
 * resident set is sampled every 100 ms.
 * The token comes from a real mcp-elevate (client_credentials, developer role) on PostgreSQL,
 * which also serves the JWKS, the policy bundle and the revocation feed.
 *
 * Targets: gateway ≥ 0.85 × direct throughput, ≤ 1 ms added p50 latency, RSS within ±10 % of its
 * level before the transfer while 200 MB stream through.
 *
 * Environment: BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/test; a scratch
 * database is created next to it and dropped), BENCH_CONNECTIONS (10), BENCH_DURATION (5 s per
 * run), BENCH_ROUNDS (4), BENCH_WARMUP (2 s per target), BENCH_STREAM_MB (200), BENCH_CPU_PROF (a
 * folder: V8 CPU profiles of the gateway and the plain proxy over the measured runs, and their self
 * time per request side by side; profiling slows both, so ignore that run's req/s).
 */
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import autocannon from 'autocannon';
import { compareProfileFiles } from './lib/cpu-profile.ts';
import { createScratchDatabase } from './lib/scratch-database.ts';
import { envNumber, int, machineLoad, median } from './lib/stats.ts';
import { measuredAt } from './lib/commit.ts';
import { startChild, type RunningChild } from './extra/ipc.ts';
import { RESOURCE, clientCredentials, discover, type ClientCredentials } from './extra/oauth.ts';

const TARGET_RATIO = 0.85;
const TARGET_ADDED_P50_MS = 1;
const TARGET_RSS_DRIFT = 0.1;
const connections = envNumber('BENCH_CONNECTIONS', 10);
const duration = envNumber('BENCH_DURATION', 5);
const rounds = Math.round(envNumber('BENCH_ROUNDS', 4));
const warmup = envNumber('BENCH_WARMUP', 2);
const streamBytes = envNumber('BENCH_STREAM_MB', 200) * 1024 * 1024;
const baseUrl = process.env.BENCH_DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/test';
const profileDir = process.env.BENCH_CPU_PROF ? resolve(process.env.BENCH_CPU_PROF) : undefined;

type Target = 'direct' | 'gateway' | 'proxy';
const TARGETS: Target[] = ['direct', 'gateway', 'proxy'];
const LABELS: Record<Target, string> = {
  direct: '(i) direct to the upstream',
  gateway: '(ii) mcp-elevate gateway',
  proxy: '(iii) plain undici proxy',
};
const caller: ClientCredentials = {
  id: 'bench-gateway-caller',
  secret: 'bench-gateway-caller-secret',
};
const callBody = JSON.stringify({
  jsonrpc: '2.0',
  id: 1,
  method: 'tools/call',
  params: { name: 'list_services', arguments: {} },
});

interface Tally {
  rps: number[];
  p50: number[];
  p99: number[];
  requests: number;
  bad: number;
  cpuMicros: number;
}
const tallies = new Map<Target, Tally>(
  TARGETS.map((t) => [t, { rps: [], p50: [], p99: [], requests: 0, bad: 0, cpuMicros: 0 }]),
);
const target = new Map<Target, { url: string; child?: RunningChild }>();

console.log(
  'gateway: tools/call list_services (MCP SDK upstream, stateless, JSON answers), ES256 at+jwt from mcp-elevate',
);
console.log(
  `autocannon ${connections} connections, ${duration} s per run, ${rounds} runs per target in alternating order, ${warmup} s warm-up each`,
);
const commit = measuredAt();
console.log(`measured at ${commit}`);
console.log(`${machineLoad()}\n`);

const database = await createScratchDatabase(baseUrl);
const children: RunningChild[] = [];
const rssSamples: number[] = [];
/** The gateway's ArrayBuffer memory (chunks in flight or awaiting collection) at the same samples. */
const bufferSamples: number[] = [];
let rssBefore = 0;
/** The gateway's RSS before the warm-up transfer: its one-time growth to the working size. */
let rssBeforeWarmup: number;
let streamed = 0;
let warmed = 0;
let streamSeconds: number;
try {
  const auth = await startChild('mcp-elevate', new URL('./extra/auth-server.ts', import.meta.url), {
    DATABASE_URL: database.url,
    BENCH_FIXTURES: JSON.stringify({
      clients: [{ id: caller.id, secret: caller.secret, roles: ['developer'] }],
    }),
  });
  children.push(auth);
  const script = new URL('./extra/gateway-targets.ts', import.meta.url);
  const upstream = await startChild('upstream', script, { BENCH_TARGET: 'upstream' });
  children.push(upstream);
  const gateway = await startChild('gateway', script, {
    BENCH_TARGET: 'gateway',
    BENCH_UPSTREAM: upstream.info.url,
    BENCH_ISSUER: auth.info.url,
    BENCH_RESOURCE: RESOURCE,
  });
  const proxy = await startChild('proxy', script, {
    BENCH_TARGET: 'proxy',
    BENCH_UPSTREAM: upstream.info.url,
  });
  children.push(gateway, proxy);
  target.set('direct', { url: upstream.info.url, child: upstream });
  target.set('gateway', { url: gateway.info.url, child: gateway });
  target.set('proxy', { url: proxy.info.url, child: proxy });
  const token = await clientCredentials(await discover(auth.info.url), caller);
  const headers = {
    'content-type': 'application/json',
    accept: 'application/json, text/event-stream',
    authorization: `Bearer ${token}`,
  };

  for (const t of TARGETS) {
    const res = await fetch(target.get(t)!.url, { method: 'POST', headers, body: callBody });
    const text = await res.text();
    if (res.status !== 200 || !text.includes('billing'))
      throw new Error(
        `${LABELS[t]}: expected the tool's result, got ${res.status} ${text.slice(0, 200)}`,
      );
  }
  const { authorization: _, ...anonymous } = headers;
  const refused = await fetch(gateway.info.url, {
    method: 'POST',
    headers: anonymous,
    body: callBody,
  });
  await refused.text();
  if (refused.status !== 401)
    throw new Error(`the gateway let a request without a token through (${refused.status})`);

  const run = (t: Target, seconds: number) =>
    autocannon({
      url: target.get(t)!.url,
      method: 'POST',
      headers,
      body: callBody,
      connections,
      duration: seconds,
    });
  for (const t of TARGETS) await run(t, warmup);
  if (profileDir) [gateway, proxy].forEach((c) => c.profileStart());
  for (let r = 0; r < rounds; r++) {
    for (const t of r % 2 === 0 ? TARGETS : [...TARGETS].reverse()) {
      // CPU of the process the client talks to: the upstream, the gateway or the proxy.
      const child = target.get(t)!.child!;
      const before = await child.sample();
      const result = await run(t, duration);
      const after = await child.sample();
      const x = tallies.get(t)!;
      x.rps.push(result.requests.total / result.duration);
      x.p50.push(result.latency.p50);
      x.p99.push(result.latency.p99);
      x.requests += result.requests.total;
      x.bad += result.non2xx + result.errors + result.timeouts;
      x.cpuMicros += after.cpuMicros - before.cpuMicros;
    }
  }
  if (profileDir) {
    await mkdir(profileDir, { recursive: true });
    await gateway.profileStop(join(profileDir, 'gateway.cpuprofile'));
    await proxy.profileStop(join(profileDir, 'proxy.cpuprofile'));
  }

  // 200 MB through the gateway, read as it arrives and dropped; the gateway's RSS sampled meanwhile.
  // A first transfer lets the allocator and the connection pools reach their working size. The
  // chunks that passed through are freed only when V8 collects, which their volume itself
  // triggers after about 64 MB: a warm-up smaller than that ends before the first such cycle, and
  // the measured transfer would then count the allocator's one-time growth to its working size.
  // Half the measured size (100 MB by default) goes through at least one cycle.
  const blob = (bytes: number) =>
    fetch(gateway.info.url, {
      method: 'POST',
      headers,
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 2,
        method: 'tools/call',
        params: { name: 'get_blob', arguments: { bytes } },
      }),
    });
  rssBeforeWarmup = (await gateway.sample()).rss;
  for await (const chunk of (await blob(streamBytes / 2)).body!) warmed += chunk.length;
  rssBefore = (await gateway.sample()).rss;
  const started = performance.now();
  const res = await blob(streamBytes);
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      const sample = await gateway.sample();
      rssSamples.push(sample.rss);
      bufferSamples.push(sample.arrayBuffers);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  })();
  const head: Buffer[] = [];
  for await (const chunk of res.body!) {
    if (streamed < 1024) head.push(Buffer.from(chunk));
    streamed += chunk.length;
  }
  sampling = false;
  await sampler;
  streamSeconds = (performance.now() - started) / 1000;
  if (streamed < streamBytes)
    throw new Error(
      `the 200 MB answer arrived short: ${streamed} bytes: ${Buffer.concat(head).toString().slice(0, 300)}`,
    );
} finally {
  await Promise.allSettled(children.reverse().map((c) => c.stop()));
  await database.drop();
}

const t = (x: Target) => tallies.get(x)!;
const rps = (x: Target) => median(t(x).rps);
const ratio = (a: Target, b: Target) => median(t(a).rps.map((v, i) => v / t(b).rps[i]!));
console.log(
  `${''.padEnd(30)}${'req/s'.padStart(8)}${'range'.padStart(14)}${'p50 ms'.padStart(8)}${'p99 ms'.padStart(8)}${'bad'.padStart(6)}${'CPU µs/req'.padStart(12)}`,
);
for (const x of TARGETS) {
  const v = t(x);
  const range = `${int(Math.min(...v.rps))}-${int(Math.max(...v.rps))}`;
  console.log(
    `${LABELS[x].padEnd(30)}${int(rps(x)).padStart(8)}${range.padStart(14)}${median(v.p50).toFixed(1).padStart(8)}${median(v.p99).toFixed(1).padStart(8)}${String(v.bad).padStart(6)}${int(v.cpuMicros / v.requests).padStart(12)}`,
  );
}
const gatewayRatio = ratio('gateway', 'direct');
const proxyRatio = ratio('proxy', 'direct');
const addedP50 = median(t('gateway').p50.map((v, i) => v - t('direct').p50[i]!));
const proxyAddedP50 = median(t('proxy').p50.map((v, i) => v - t('direct').p50[i]!));
console.log(
  `ratios (median of per-round ratios): gateway/direct ${gatewayRatio.toFixed(3)}, proxy/direct ${proxyRatio.toFixed(3)}, gateway/proxy ${ratio('gateway', 'proxy').toFixed(3)}`,
);
console.log(
  `added p50 latency: gateway ${addedP50.toFixed(2)} ms, proxy ${proxyAddedP50.toFixed(2)} ms (autocannon reports whole milliseconds)`,
);
const drift = Math.max(...rssSamples.map((v) => Math.abs(v / rssBefore - 1)));
const mb = (bytes: number) => (bytes / 1024 / 1024).toFixed(1);
console.log(
  `after a ${mb(warmed)} MB warm-up transfer (gateway RSS ${mb(rssBeforeWarmup)} MB before it): ${mb(streamed)} MB through the gateway in ${streamSeconds.toFixed(1)} s (${mb(streamed / streamSeconds)} MB/s); gateway RSS ${mb(rssBefore)} MB before, ${mb(Math.min(...rssSamples))}-${mb(Math.max(...rssSamples))} MB during (${rssSamples.length} samples), largest drift ${(drift * 100).toFixed(1)} %; ArrayBuffers ${mb(Math.min(...bufferSamples))}-${mb(Math.max(...bufferSamples))} MB`,
);
console.log(machineLoad());
if (profileDir)
  for (const line of await compareProfileFiles(
    [join(profileDir, 'gateway.cpuprofile'), t('gateway').requests],
    [join(profileDir, 'proxy.cpuprofile'), t('proxy').requests],
  ))
    console.log(line);

const verdicts = [
  [
    `throughput ${gatewayRatio.toFixed(2)}x direct (target >= ${TARGET_RATIO})`,
    gatewayRatio >= TARGET_RATIO,
  ],
  [
    `added p50 ${addedP50.toFixed(2)} ms (target <= ${TARGET_ADDED_P50_MS} ms)`,
    addedP50 <= TARGET_ADDED_P50_MS,
  ],
  [
    `RSS drift ${(drift * 100).toFixed(1)} % during ${mb(streamed)} MB (target <= ${TARGET_RSS_DRIFT * 100} %)`,
    drift <= TARGET_RSS_DRIFT,
  ],
] as const;
const bad = TARGETS.reduce((n, x) => n + t(x).bad, 0);
console.log(
  `summary: ${int(rps('direct'))} req/s direct, ${int(rps('gateway'))} through the gateway, ${int(rps('proxy'))} through a plain proxy; ${verdicts.map(([text, met]) => `${text} ${met ? 'met' : 'MISSED'}`).join('; ')}; ${bad} non-2xx/errors; measured at ${commit}`,
);
