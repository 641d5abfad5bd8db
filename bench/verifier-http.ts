/**
 * Verifier overhead over HTTP: requests per second of one MCP tool call (`tools/call
 * list_services`, Streamable HTTP on Express 5, JSON responses) served
 * (i) without authentication, (ii) behind our verifier (`createMcpProtection(...).expressGuard`:
 * cached token + policy decision), (iii) behind the MCP SDK's `requireBearerAuth` with a
 * `verifyAccessToken` on `jose.jwtVerify` and a remote JWKS, and, for information, (iv) our guard
 * plus `protectMcpServer` around the tool. Same MCP server code, same request, same token, same
 * autocannon settings; each variant in its own child process, autocannon here; the variants run
 * in turns (i ii iii iv, then iv iii ii i, …) so that a change in background load weighs on all.
 * Each is measured twice over: with the MCP server stateless (a new McpServer per request, the
 * SDK's stateless pattern) and stateful (one session, as the example server keeps them), since
 * the same authentication cost is a larger share of the cheaper stateful request.
 * The token comes from a real mcp-elevate (client_credentials, developer role) on PostgreSQL,
 * which also serves the JWKS and the policy bundle.
 *
 * Environment: BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/test; a scratch
 * database is created next to it and dropped), BENCH_CONNECTIONS (10), BENCH_DURATION (5 s per
 * run), BENCH_ROUNDS (4 runs per variant and mode), BENCH_FRESH_PROCESSES (1, the default: a
 * new process per variant every round, warmed up for BENCH_WARMUP first, so that no one process's
 * JIT and GC luck decides a variant's figures: two processes of the very same server differ by up
 * to 20 µs of CPU per request, 7 % of throughput; 0: one process per variant and mode, warm for
 * all its rounds),
 * BENCH_WARMUP (5 s per variant process: about 20 000 requests),
 * BENCH_MCP_MODES (`stateless,stateful`), BENCH_CPU_PROF (a folder: after the measured runs of a
 * mode, profile one more run of two variants and print where the first spends its extra time per
 * request; profiling slows both, so those runs are not counted), BENCH_CPU_PROF_PAIR (the two
 * variants profiled, default `ours,none`; `ours-tools,ours` shows what protectMcpServer adds).
 */
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import autocannon from 'autocannon';
import { compareProfiles, summariseProfile } from './lib/cpu-profile.ts';
import { createScratchDatabase } from './lib/scratch-database.ts';
import { envNumber, int, machineLoad, median } from './lib/stats.ts';
import { measuredAt } from './lib/commit.ts';
import { startChild, type RunningChild } from './extra/ipc.ts';
import { MODES, VARIANTS, type Mode, type Variant } from './extra/variants.ts';
import { PROTOCOL_VERSION, openSession } from './extra/mcp-client.ts';
import { RESOURCE, clientCredentials, discover, type ClientCredentials } from './extra/oauth.ts';

const TARGET_OVERHEAD = 0.1;
/** The whole in-process protection, guard + protectMcpServer (variant iv), against unprotected. */
const TARGET_PROTECTION_COST = 0.15;
const connections = envNumber('BENCH_CONNECTIONS', 10);
const duration = envNumber('BENCH_DURATION', 5);
const rounds = Math.round(envNumber('BENCH_ROUNDS', 4));
const freshProcesses = (process.env.BENCH_FRESH_PROCESSES ?? '1') !== '0';
const warmup = envNumber('BENCH_WARMUP', 5);
const baseUrl = process.env.BENCH_DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/test';
const profileDir = process.env.BENCH_CPU_PROF ? resolve(process.env.BENCH_CPU_PROF) : undefined;
const profilePair = (process.env.BENCH_CPU_PROF_PAIR || 'ours,none')
  .split(',')
  .map((v) => v.trim()) as Variant[];
if (profilePair.length !== 2 || !profilePair.every((v) => VARIANTS.includes(v)))
  throw new TypeError(
    `BENCH_CPU_PROF_PAIR: expected two of ${VARIANTS.join(', ')}, separated by a comma`,
  );
const modes = (process.env.BENCH_MCP_MODES || MODES.join(','))
  .split(',')
  .map((m) => m.trim()) as Mode[];
for (const m of modes)
  if (!MODES.includes(m))
    throw new TypeError(
      `BENCH_MCP_MODES: unknown mode ${JSON.stringify(m)}, expected ${MODES.join(' or ')}`,
    );

const LABELS: Record<Variant, string> = {
  none: '(i) unprotected',
  ours: '(ii) our verifier (guard)',
  sdk: '(iii) SDK requireBearerAuth + jose',
  'ours-tools': '(iv) guard + protectMcpServer',
};
const caller: ClientCredentials = { id: 'bench-mcp-caller', secret: 'bench-mcp-caller-secret' };
// autocannon puts a unique id in place of [<id>] for each request: in one session, concurrent
// requests must not share a JSON-RPC id.
const callBody = JSON.stringify({
  jsonrpc: '2.0',
  id: '[<id>]',
  method: 'tools/call',
  params: { name: 'list_services', arguments: {} },
});
const probeBody = callBody.replace('[<id>]', 'probe');

interface Tally {
  rps: number[];
  p50: number[];
  p99: number[];
  requests: number;
  non2xx: number;
  errors: number;
  cpuMicros: number;
  gcMicros: number;
}
const newTally = (): Tally => ({
  rps: [],
  p50: [],
  p99: [],
  requests: 0,
  non2xx: 0,
  errors: 0,
  cpuMicros: 0,
  gcMicros: 0,
});

console.log(
  'verifier over HTTP: tools/call list_services, Streamable HTTP on Express 5 (JSON responses), ES256 at+jwt from mcp-elevate',
);
console.log(
  `autocannon ${connections} connections, ${duration} s per run, ${rounds} runs per variant in alternating order, ${warmup} s warm-up each; modes: ${modes.join(', ')}`,
);
const commit = measuredAt();
console.log(`measured at ${commit}`);
console.log(`${machineLoad()}\n`);

const database = await createScratchDatabase(baseUrl);
const results = new Map<Mode, Map<Variant, Tally>>();
const profileLines = new Map<Mode, string[]>();
let auth: RunningChild | undefined;
try {
  auth = await startChild('mcp-elevate', new URL('./extra/auth-server.ts', import.meta.url), {
    DATABASE_URL: database.url,
    BENCH_FIXTURES: JSON.stringify({
      clients: [{ id: caller.id, secret: caller.secret, roles: ['developer'] }],
    }),
  });
  const issuer = auth.info.url;
  const token = await clientCredentials(await discover(issuer), caller);
  const baseHeaders = {
    'content-type': 'application/json',
    accept: 'application/json, text/event-stream',
    authorization: `Bearer ${token}`,
  };

  for (const mode of modes) {
    const tallies = new Map<Variant, Tally>(VARIANTS.map((v) => [v, newTally()]));
    results.set(mode, tallies);
    const targets = new Map<Variant, { child: RunningChild; headers: Record<string, string> }>();
    const run = (v: Variant, seconds: number) => {
      const { child, headers } = targets.get(v)!;
      // idReplacement (autocannon 9; not in bench/types): a fresh id in place of [<id>] per request.
      const options = {
        url: child.info.url,
        method: 'POST' as const,
        headers,
        body: callBody,
        idReplacement: true,
        connections,
        duration: seconds,
      };
      return autocannon(options);
    };
    /** Starts (or restarts) the process of variant `v` and checks it, then warms it up. */
    const startTarget = async (v: Variant) => {
      await targets.get(v)?.child.stop();
      const child = await startChild(
        `${LABELS[v]} (${mode})`,
        new URL('./extra/mcp-variant.ts', import.meta.url),
        {
          BENCH_VARIANT: v,
          BENCH_MCP_MODE: mode,
          BENCH_ISSUER: issuer,
          BENCH_RESOURCE: RESOURCE,
        },
      );
      const url = child.info.url;
      const headers =
        mode === 'stateful'
          ? {
              ...baseHeaders,
              'mcp-session-id': await openSession(url, baseHeaders),
              'mcp-protocol-version': PROTOCOL_VERSION,
            }
          : baseHeaders;
      targets.set(v, { child, headers });
      // Each must answer the call, and the protected ones must refuse a request without a token.
      const res = await fetch(url, { method: 'POST', headers, body: probeBody });
      const text = await res.text();
      if (res.status !== 200 || !text.includes('api-gateway'))
        throw new Error(
          `${LABELS[v]} (${mode}): expected the tool's result, got ${res.status} ${text.slice(0, 200)}`,
        );
      if (v !== 'none') {
        const { authorization: _, ...anonymous } = headers;
        const refused = await fetch(url, { method: 'POST', headers: anonymous, body: probeBody });
        await refused.text();
        if (refused.status !== 401)
          throw new Error(
            `${LABELS[v]} (${mode}): a request without a token got ${refused.status}`,
          );
      }
      await run(v, warmup);
    };
    try {
      for (let r = 0; r < rounds; r++) {
        // BENCH_FRESH_PROCESSES: a process's own JIT and GC luck can move its CPU per request by
        // more than the differences measured here; fresh processes each round average it out.
        if (r === 0 || freshProcesses) for (const v of VARIANTS) await startTarget(v);
        for (const v of r % 2 === 0 ? VARIANTS : [...VARIANTS].reverse()) {
          const { child } = targets.get(v)!;
          const before = await child.sample();
          const result = await run(v, duration);
          const after = await child.sample();
          const t = tallies.get(v)!;
          t.rps.push(result.requests.total / result.duration);
          t.p50.push(result.latency.p50);
          t.p99.push(result.latency.p99);
          t.requests += result.requests.total;
          t.non2xx += result.non2xx;
          t.errors += result.errors + result.timeouts;
          t.cpuMicros += after.cpuMicros - before.cpuMicros;
          t.gcMicros += after.gcMicros - before.gcMicros;
        }
      }

      if (profileDir) {
        await mkdir(profileDir, { recursive: true });
        const requests: Partial<Record<Variant, number>> = {};
        const file = (v: Variant) => join(profileDir, `${mode}-${v}.cpuprofile`);
        const [a, b] = profilePair;
        for (const v of profilePair) {
          targets.get(v)!.child.profileStart();
          requests[v] = (await run(v, duration)).requests.total;
          await targets.get(v)!.child.profileStop(file(v));
        }
        const [p, q] = await Promise.all([summariseProfile(file(a)), summariseProfile(file(b))]);
        profileLines.set(mode, [
          `CPU profiles, ${mode} (${profileDir}/${mode}-{${a},${b}}.cpuprofile; profiled runs not counted above)`,
          `self time per request in µs: ${LABELS[a]}, ${LABELS[b]}, difference; ${int((p.totalMs * 1000) / requests[a]!)} vs ${int((q.totalMs * 1000) / requests[b]!)} µs in all`,
          'by owner:',
          ...compareProfiles(p.byOwner, requests[a]!, q.byOwner, requests[b]!, 8).map(
            (l) => `  ${l}`,
          ),
          'by function:',
          ...compareProfiles(p.byFunction, requests[a]!, q.byFunction, requests[b]!, 15).map(
            (l) => `  ${l}`,
          ),
        ]);
      }
    } finally {
      await Promise.allSettled([...targets.values()].map(({ child }) => child.stop()));
    }
  }
} finally {
  await auth?.stop();
  await database.drop();
}

interface ModeSummary {
  mode: Mode;
  rps: Record<Variant, number>;
  overhead: number;
  sdkOverhead: number;
  met: boolean;
  /** 1 − (iv)/unprotected throughput. */
  protectionCost: number;
  bad: number;
}
const summaries: ModeSummary[] = [];
for (const [mode, tallies] of results) {
  const t = (v: Variant) => tallies.get(v)!;
  const rps = (v: Variant) => median(t(v).rps);
  const cpu = (v: Variant) => t(v).cpuMicros / t(v).requests;
  // Per-round ratios: the runs of one round ran under the same conditions.
  const ratio = (a: Variant, b: Variant) => median(t(a).rps.map((x, i) => x / t(b).rps[i]));
  console.log(
    `${mode} MCP server${mode === 'stateless' ? ' (new McpServer + transport per request)' : ' (one session)'}`,
  );
  console.log(
    `${''.padEnd(38)}${'req/s'.padStart(8)}${'range'.padStart(14)}${'p50 ms'.padStart(8)}${'p99 ms'.padStart(8)}${'non-2xx'.padStart(9)}${'errors'.padStart(8)}${'CPU µs/req'.padStart(12)}${'GC µs/req'.padStart(11)}`,
  );
  for (const v of VARIANTS) {
    const x = t(v);
    console.log(
      `${LABELS[v].padEnd(38)}${int(rps(v)).padStart(8)}${`${int(Math.min(...x.rps))}-${int(Math.max(...x.rps))}`.padStart(14)}${median(x.p50).toFixed(1).padStart(8)}${median(x.p99).toFixed(1).padStart(8)}${String(x.non2xx).padStart(9)}${String(x.errors).padStart(8)}${int(cpu(v)).padStart(12)}${int(t(v).gcMicros / t(v).requests).padStart(11)}`,
    );
  }
  const ours = ratio('ours', 'none');
  const sdk = ratio('sdk', 'none');
  const overhead = 1 - ours;
  const sdkOverhead = 1 - sdk;
  const met = overhead <= TARGET_OVERHEAD && ours > sdk;
  console.log(
    `ratios (median of per-round ratios): ours/unprotected ${ours.toFixed(3)} (overhead ${(overhead * 100).toFixed(1)} %), SDK/unprotected ${sdk.toFixed(3)} (overhead ${(sdkOverhead * 100).toFixed(1)} %), ours/SDK ${ratio('ours', 'sdk').toFixed(3)}, (iv)/unprotected ${ratio('ours-tools', 'none').toFixed(3)}`,
  );
  console.log(
    `CPU per request over unprotected: ours +${int(cpu('ours') - cpu('none'))} µs, SDK +${int(cpu('sdk') - cpu('none'))} µs, (iv) +${int(cpu('ours-tools') - cpu('none'))} µs`,
  );
  const protectionCost = 1 - ratio('ours-tools', 'none');
  console.log(
    `target (overhead <= ${TARGET_OVERHEAD * 100} % and below requireBearerAuth's): ${met ? 'met' : 'MISSED'}`,
  );
  console.log(
    `target (guard + protectMcpServer cost < ${TARGET_PROTECTION_COST * 100} % of throughput): ${(protectionCost * 100).toFixed(1)} % ${protectionCost < TARGET_PROTECTION_COST ? 'met' : 'MISSED'}\n`,
  );
  if (profileLines.has(mode)) console.log(`${profileLines.get(mode)!.join('\n')}\n`);
  const bad = VARIANTS.reduce((n, v) => n + t(v).non2xx + t(v).errors, 0);
  summaries.push({
    mode,
    rps: Object.fromEntries(VARIANTS.map((v) => [v, rps(v)])) as Record<Variant, number>,
    overhead,
    sdkOverhead,
    met,
    protectionCost,
    bad,
  });
}

console.log(machineLoad());
console.log(
  `summary: ${summaries.map((s) => `${s.mode}: ${int(s.rps.none)} req/s unprotected, ${int(s.rps.ours)} ours (overhead ${(s.overhead * 100).toFixed(1)} %), ${int(s.rps.sdk)} requireBearerAuth + jose (overhead ${(s.sdkOverhead * 100).toFixed(1)} %), target ${s.met ? 'met' : 'missed'}, ${int(s.rps['ours-tools'])} with protectMcpServer (cost ${(s.protectionCost * 100).toFixed(1)} %, target < ${TARGET_PROTECTION_COST * 100} % ${s.protectionCost < TARGET_PROTECTION_COST ? 'met' : 'missed'})`).join('; ')}; ${summaries.reduce((n, s) => n + s.bad, 0)} non-2xx/errors; measured at ${commit}`,
);
