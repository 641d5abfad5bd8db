/**
 * Elevation throughput and approval-mail latency of mcp-elevate on PostgreSQL.
 *
 * (a) Elevations per second without approval: a CIBA request for `mcp:deploy:staging` plus the
 *     first poll (which returns the elevated token), for a developer whose base token the agent got
 *     once through the real login and consent pages; `BENCH_CONCURRENCY` elevations in flight from
 *     this process (fetch, keep-alive), the server in a child process. Baseline in the same run:
 *     the same CIBA request and first poll, by the same client, at the same concurrency, against
 *     bare oidc-provider with CIBA enabled and its in-memory adapter (bench/extra/bare-ciba.ts: one
 *     static client, one account, approval at once, ES256 JWT access tokens for the same resource),
 *     in a child process of its own. After a warm-up of each, the measured work of each is split
 *     in halves run ours, bare, bare, ours, so that a change in background load weighs on both
 *     alike. Also counts the SQL statements per elevation, the CPU of each server and of our
 *     PostgreSQL backends, and samples what those backends do (running, waiting on a lock, idle in
 *     transaction).
 * (b) Approval mail: time from the start of a CIBA request for `mcp:deploy:production` by a senior
 *     developer (which opens a ticket) to the approver's mail being accepted by a local SMTP server
 *     (smtp-server, end of DATA), for tickets opened at a steady rate and then in a burst.
 *
 * Environment: BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/test; a scratch
 * database is created next to it and dropped), BENCH_ELEVATIONS (2000 measured per side),
 * BENCH_SECONDS (30: time cap per side), BENCH_CONCURRENCY (20), BENCH_WARMUP (200 per side),
 * BENCH_USERS (1: developers the elevations rotate over; the token endpoint reads only the
 * elevations of the token's own grant, so this changes little), BENCH_TICKETS (200 per phase of (b)), BENCH_TICKET_RATE (5 tickets/s in the steady phase),
 * BENCH_CPU_PROF (a folder: also profile one extra elevation segment of each server and print
 * where each spends its time per elevation).
 */
import { mkdir } from 'node:fs/promises';
import { cpus } from 'node:os';
import { join, resolve } from 'node:path';
import { decodeJwt } from 'jose';
import { measuredAt } from './lib/commit.ts';
import { compareProfiles, summariseProfile } from './lib/cpu-profile.ts';
import { postgresCpu } from './lib/postgres-cpu.ts';
import { createScratchDatabase } from './lib/scratch-database.ts';
import { envNumber, int, machineLoad, quantile } from './lib/stats.ts';
import { startChild, statementsBetween, type RunningChild } from './extra/ipc.ts';
import {
  addInto,
  closedLoop,
  emptyResult,
  latencySummary,
  openLoop,
  type RunResult,
} from './extra/load.ts';
import type { BareSettings } from './extra/bare-ciba.ts';
import {
  agentClient,
  backchannel,
  discover,
  loginUser,
  poll,
  RESOURCE,
  type ClientCredentials,
  type Endpoints,
} from './extra/oauth.ts';
import { pgActivitySampler } from './extra/pg-waits.ts';
import { startSmtpSink } from './extra/smtp-sink.ts';

const TARGET_PER_SEC = 1_000;
const TARGET_MAIL_P99_MS = 1_000;
/** The elevated scope of (a): no approval needed for a developer. */
const ELEVATED_SCOPE = 'mcp:deploy:staging';
const count = envNumber('BENCH_ELEVATIONS', 2_000);
const seconds = envNumber('BENCH_SECONDS', 30);
const concurrency = envNumber('BENCH_CONCURRENCY', 20);
const warmup = envNumber('BENCH_WARMUP', 200);
const tickets = envNumber('BENCH_TICKETS', 200);
const ticketRate = envNumber('BENCH_TICKET_RATE', 5);
const userCount = Math.round(envNumber('BENCH_USERS', 1));
const baseUrl = process.env.BENCH_DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/test';
const profileDir = process.env.BENCH_CPU_PROF ? resolve(process.env.BENCH_CPU_PROF) : undefined;
/** How long (b) waits for the last mail of a phase after its last ticket. */
const MAIL_WAIT_MS = 60_000;

const agent: ClientCredentials = { id: 'bench-agent', secret: 'bench-agent-secret-value' };
const developers = Array.from({ length: userCount }, (_, i) => ({
  email: `dev${i}@bench.test`,
  password: 'developer password',
  roles: ['developer'],
}));
const users = {
  senior: { email: 'senior@bench.test', password: 'senior password', roles: ['senior_developer'] },
  // The only member of tech-lead (and of no other approver group): one approval mail per ticket.
  lead: {
    email: 'lead@bench.test',
    password: 'lead password',
    roles: ['developer'],
    groups: ['tech-lead'],
  },
};

/** One server of (a): where to send elevations, and the login_hint_tokens to send. */
interface Target {
  child: RunningChild;
  endpoints: Endpoints;
  hints: string[];
}

/** One side of (a): what it did and what it cost the server. */
interface Side {
  label: string;
  run: RunResult;
  cpuMicros: number;
  pgMicros: number;
  statements: Map<string, { n: number; rows: number }>;
  legs: { backchannel: number[]; poll: number[] };
}
const side = (label: string): Side => ({
  label,
  run: emptyResult(),
  cpuMicros: 0,
  pgMicros: 0,
  statements: new Map(),
  legs: { backchannel: [], poll: [] },
});

console.log(
  'elevation: mcp-elevate on PostgreSQL, CIBA poll mode (CIBA_POLL_INTERVAL=1), server in a child process, client here (fetch, keep-alive)',
);
console.log(
  `(a) ${int(count)} elevations (${userCount === 1 ? 'one developer' : `rotating over ${userCount} developers`}) against mcp-elevate and ${int(count)} against bare oidc-provider (CIBA, in-memory adapter), each in two halves of at most ${seconds / 2} s, ${concurrency} in flight, ${int(warmup)} warm-up each`,
);
console.log(
  `(b) ${int(tickets)} approval tickets at ${ticketRate}/s, then ${int(tickets)} in a burst (${concurrency} in flight)`,
);
const commit = measuredAt();
console.log(`measured at ${commit}`);
console.log(`${machineLoad()}\n`);

const sentAt = new Map<string, number>();
/** Per ticket: start of its CIBA request -> mail accepted. */
const mailLatency = new Map<string, { total: number; acceptedAt: number }>();
const sink = await startSmtpSink((raw, acceptedAt) => {
  const key = /bench-ticket-[a-z]+-\d+/.exec(raw)?.[0];
  const t0 = key ? sentAt.get(key) : undefined;
  if (key && t0 !== undefined && !mailLatency.has(key))
    mailLatency.set(key, { total: acceptedAt - t0, acceptedAt });
});
const database = await createScratchDatabase(baseUrl);
const pgCpu = await postgresCpu(baseUrl, database.name);
// Audit chain passes take a table lock on audit_event: watch what its holder does.
const activity = await pgActivitySampler(baseUrl, database.name, { lockedTable: 'audit_event' });
let server: RunningChild | undefined;
let bareServer: RunningChild | undefined;
const elevation = side('mcp-elevate (PostgreSQL)');
const bare = side('bare oidc-provider (memory)');
const mail: Array<{
  phase: string;
  latencies: number[];
  connections: number;
  requests: RunResult;
  missing: number;
  mailsPerSec: number;
}> = [];
let profileLines: string[] = [];
/** Warm-up tokens and how many distinct elevations they were bound to (`elevation` claim). */
const binding = { tokens: 0, distinct: 0 };

try {
  server = await startChild('mcp-elevate', new URL('./extra/auth-server.ts', import.meta.url), {
    DATABASE_URL: database.url,
    BENCH_SERVER_ENV: JSON.stringify({ CIBA_POLL_INTERVAL: '1', SMTP_URL: sink.url }),
    BENCH_FIXTURES: JSON.stringify({
      users: [...developers, ...Object.values(users)],
      clients: [agentClient(agent, ['developer'])],
    }),
  });
  const endpoints: Endpoints = await discover(server.info.url);
  const devTokens: string[] = [];
  for (const d of developers)
    devTokens.push(await loginUser(server.info.url, agent, d.email, d.password));
  const seniorToken = await loginUser(
    server.info.url,
    agent,
    users.senior.email,
    users.senior.password,
  );
  const bareSettings: BareSettings = {
    clientId: agent.id,
    clientSecret: agent.secret,
    resource: RESOURCE,
    scope: ELEVATED_SCOPE,
  };
  bareServer = await startChild(
    'bare oidc-provider',
    new URL('./extra/bare-ciba.ts', import.meta.url),
    { BENCH_BARE: JSON.stringify(bareSettings) },
  );
  const ours: Target = { child: server, endpoints, hints: devTokens };
  const baseline: Target = {
    child: bareServer,
    endpoints: await discover(bareServer.info.url),
    hints: [bareServer.info.loginHintToken],
  };
  const targetOf = (s: Side) => (s === elevation ? ours : baseline);

  // The loops below measure what they claim only if an elevation really yields an elevated token
  // (ours also names its elevation, one per CIBA request).
  for (const t of [ours, baseline]) {
    const authReqId = await backchannel(
      t.endpoints,
      agent,
      t.hints[0],
      ELEVATED_SCOPE,
      'bench sanity check',
    );
    const sample = decodeJwt(await poll(t.endpoints, agent, authReqId));
    if (
      !String(sample.scope).split(' ').includes(ELEVATED_SCOPE) ||
      (t === ours && typeof sample.elevation !== 'string')
    ) {
      throw new Error(
        `${t.child.label}: the first poll did not return an elevated token: ${JSON.stringify(sample)}`,
      );
    }
  }

  const elevateOnce = (t: Target, legs?: Side['legs'], claims?: string[]) => async (i: number) => {
    const t0 = performance.now();
    const authReqId = await backchannel(
      t.endpoints,
      agent,
      t.hints[i % t.hints.length],
      ELEVATED_SCOPE,
      `bench elevation ${i}`,
    );
    const t1 = performance.now();
    const elevated = await poll(t.endpoints, agent, authReqId);
    legs?.backchannel.push(t1 - t0);
    legs?.poll.push(performance.now() - t1);
    claims?.push(String(decodeJwt(elevated).elevation));
  };

  // (a) warm-up, then ours, bare, bare, ours. The warm-up also notes which elevation each of our
  // tokens was bound to: one per CIBA request is expected.
  const claims: string[] = [];
  await closedLoop({ count: warmup, seconds, concurrency }, elevateOnce(ours, undefined, claims));
  Object.assign(binding, { tokens: claims.length, distinct: new Set(claims).size });
  await closedLoop({ count: warmup, seconds, concurrency }, elevateOnce(baseline));
  for (const s of [elevation, bare, bare, elevation]) {
    const { child } = targetOf(s);
    const before = await child.sample();
    const pgBefore = await pgCpu.sample();
    if (s === elevation) await activity.start();
    const run = await closedLoop(
      { count: Math.ceil(count / 2), seconds: seconds / 2, concurrency },
      elevateOnce(targetOf(s), s.legs),
    );
    if (s === elevation) await activity.stop();
    const after = await child.sample();
    const pgMicros = pgCpu.since(pgBefore, await pgCpu.sample());
    // The bare server has no database: PostgreSQL's CPU meanwhile is background work of ours.
    if (s === elevation) s.pgMicros += pgMicros;
    s.cpuMicros += after.cpuMicros - before.cpuMicros;
    for (const [sql, n, rows] of statementsBetween(before, after)) {
      const entry = s.statements.get(sql) ?? { n: 0, rows: 0 };
      s.statements.set(sql, { n: entry.n + n, rows: entry.rows + rows });
    }
    addInto(s.run, run);
  }

  if (profileDir) {
    await mkdir(profileDir, { recursive: true });
    const profiled: Array<[string, number]> = [];
    for (const [name, t] of [
      ['ours', ours],
      ['bare', baseline],
    ] as const) {
      t.child.profileStart();
      const run = await closedLoop(
        { count: Math.ceil(count / 2), seconds: seconds / 2, concurrency },
        elevateOnce(t),
      );
      await t.child.profileStop(join(profileDir, `${name}.cpuprofile`));
      profiled.push([name, run.ok]);
    }
    const [e, t] = await Promise.all(
      profiled.map(([name]) => summariseProfile(join(profileDir, `${name}.cpuprofile`))),
    );
    const [eOps, tOps] = profiled.map(([, n]) => n);
    profileLines = [
      `CPU profiles of the servers (${profileDir}/{ours,bare}.cpuprofile; profiling slows them, ignore those runs' rates)`,
      `self time per elevation in µs: ours, bare, difference; ${int((e.totalMs * 1000) / eOps)} vs ${int((t.totalMs * 1000) / tOps)} µs in all`,
      'by owner:',
      ...compareProfiles(e.byOwner, eOps, t.byOwner, tOps, 15).map((l) => `  ${l}`),
      'by function:',
      ...compareProfiles(e.byFunction, eOps, t.byFunction, tOps, 25).map((l) => `  ${l}`),
    ];
  }

  // (b) approval mail: steady, then burst.
  const openTicket = (phase: string, latencies: number[]) => async (i: number) => {
    // A fresh key per ticket; the mail quotes the justification, which is how the sink matches it.
    const key = `bench-ticket-${phase}-${i}`;
    const t0 = performance.now();
    sentAt.set(key, t0);
    await backchannel(endpoints, agent, seniorToken, 'mcp:deploy:production', key);
    latencies.push(performance.now() - t0);
  };
  for (const phase of ['steady', 'burst'] as const) {
    const requestLatencies: number[] = [];
    const connectionsBefore = sink.connections;
    const requests =
      phase === 'steady'
        ? await openLoop(
            { rate: ticketRate, count: tickets, seconds: tickets / ticketRate + 30 },
            openTicket(phase, requestLatencies),
          )
        : await closedLoop(
            { count: tickets, seconds: 60, concurrency },
            openTicket(phase, requestLatencies),
          );
    const keys = [...sentAt.keys()].filter((k) => k.startsWith(`bench-ticket-${phase}-`));
    const deadline = performance.now() + MAIL_WAIT_MS;
    while (keys.some((k) => !mailLatency.has(k)) && performance.now() < deadline)
      await new Promise((r) => setTimeout(r, 20));
    const got = keys.map((k) => mailLatency.get(k)).filter((v) => v !== undefined);
    const accepts = got.map((m) => m.acceptedAt).sort((a, b) => a - b);
    const mailsPerSec =
      accepts.length > 1 ? (accepts.length - 1) / ((accepts.at(-1)! - accepts[0]) / 1000) : NaN;
    requests.latenciesMs = requestLatencies;
    mail.push({
      phase,
      latencies: got.map((m) => m.total),
      connections: sink.connections - connectionsBefore,
      requests,
      missing: keys.length - got.length,
      mailsPerSec,
    });
  }
} finally {
  await bareServer?.stop();
  await server?.stop();
  await activity.close();
  await pgCpu.close();
  await database.drop();
  await sink.close();
}

// ---- report ----
const rate = (s: Side) => s.run.ok / s.run.seconds;
const perOp = (micros: number, s: Side) => (s.run.ok ? int(micros / s.run.ok) : '-');
const sqlPerOp = (s: Side) =>
  [...s.statements.values()].reduce((a, b) => a + b.n, 0) / Math.max(1, s.run.ok);
const header = `${''.padEnd(40)}${'ops/s'.padStart(8)}${'p50 ms'.padStart(9)}${'p99 ms'.padStart(9)}${'errors'.padStart(8)}${'CPU µs/op'.padStart(11)}${'PG µs/op'.padStart(10)}${'SQL/op'.padStart(8)}`;
const row = (s: Side) => {
  const l = latencySummary(s.run.latenciesMs);
  return `${s.label.padEnd(40)}${int(rate(s)).padStart(8)}${l.p50.padStart(9)}${l.p99.padStart(9)}${String(s.run.errors).padStart(8)}${perOp(s.cpuMicros, s).padStart(11)}${(pgCpu.visible ? perOp(s.pgMicros, s) : '-').padStart(10)}${sqlPerOp(s).toFixed(1).padStart(8)}`;
};
const leg = (label: string, ms: number[]) => {
  const l = latencySummary(ms);
  return `${`  ${label}`.padEnd(40)}${''.padStart(8)}${l.p50.padStart(9)}${l.p99.padStart(9)}`;
};

console.log(
  `(a) elevations without approval (CIBA request + first poll), ${concurrency} in flight (measured: ${int(elevation.run.ok + elevation.run.errors)} against mcp-elevate, ${int(bare.run.ok + bare.run.errors)} against bare oidc-provider)`,
);
console.log(header);
for (const s of [elevation, bare]) {
  console.log(row(s));
  console.log(leg('of which the CIBA request', s.legs.backchannel));
  console.log(leg('of which the first poll (token)', s.legs.poll));
}
const ratio = rate(elevation) / rate(bare);
const met = rate(elevation) >= TARGET_PER_SEC;
console.log(
  `ratio ours/bare: ${ratio.toFixed(2)} (an elevation costs ${(1 / ratio).toFixed(1)}x bare oidc-provider's CIBA request and poll); target >= ${int(TARGET_PER_SEC)} elevations/s: ${met ? 'met' : 'MISSED'}`,
);
// What one server process could sustain with a core of its own (PostgreSQL and the clients elsewhere).
const perCore = (s: Side) => (s.run.ok && s.cpuMicros ? (1e6 * s.run.ok) / s.cpuMicros : NaN);
console.log(
  `server CPU per elevation ${perOp(elevation.cpuMicros, elevation)} µs: one process on a core of its own would sustain about ${int(perCore(elevation))} elevations/s (bare oidc-provider: ${int(perCore(bare))}/s); here one machine of ${cpus().length} cores runs the server, PostgreSQL (${pgCpu.visible ? perOp(elevation.pgMicros, elevation) : '?'} µs per elevation) and this load generator`,
);
for (const s of [elevation, bare])
  for (const e of s.run.errorSamples) console.log(`  error (${s.label}): ${e}`);
console.log(
  '(CPU µs/op: server process CPU per elevation; PG µs/op: CPU of its PostgreSQL backends; SQL/op: statements sent, background workers included; the bare server has no database)\n',
);

console.log(
  `SQL statements per elevation (${int(elevation.run.ok)} elevations; BEGIN/COMMIT count as statements), with rows returned or changed per elevation:`,
);
console.log(`${'stmts'.padStart(8)}${'rows'.padStart(9)}`);
for (const [sql, { n, rows }] of [...elevation.statements].sort((a, b) => b[1].n - a[1].n)) {
  console.log(
    `${(n / elevation.run.ok).toFixed(2).padStart(8)}${(rows / elevation.run.ok).toFixed(1).padStart(9)}  ${sql.length > 140 ? `${sql.slice(0, 137)}...` : sql}`,
  );
}
console.log(`${sqlPerOp(elevation).toFixed(2).padStart(8)}${''.padStart(9)}  total`);
console.log(
  `tokens bound to distinct elevations (warm-up): ${binding.distinct} distinct elevation ids in ${binding.tokens} tokens from ${binding.tokens} CIBA requests\n`,
);

console.log(
  `PostgreSQL backends of the server during the elevation segments (average count per sample, ${activity.samples} samples, pool max 10):`,
);
for (const [state, n] of activity.report()) console.log(`  ${n.toFixed(2).padStart(6)}  ${state}`);
console.log();

if (profileLines.length) console.log(`${profileLines.join('\n')}\n`);

console.log(
  "(b) approval mail: start of the CIBA request that opens the ticket -> approver's mail accepted by the SMTP server (smtp-server, end of DATA)",
);
console.log(
  `${''.padEnd(26)}${'tickets'.padStart(8)}${'mails'.padStart(7)}${'p50 ms'.padStart(9)}${'p99 ms'.padStart(9)}${'max ms'.padStart(9)}${'request p50/p99'.padStart(17)}${'SMTP conns'.padStart(12)}${'mails/s'.padStart(9)}${'errors'.padStart(8)}`,
);
for (const m of mail) {
  const l = latencySummary(m.latencies);
  const r = latencySummary(m.requests.latenciesMs);
  const label =
    m.phase === 'steady' ? `steady, ${ticketRate} tickets/s` : `burst, ${concurrency} in flight`;
  console.log(
    `${label.padEnd(26)}${String(m.requests.ok + m.requests.errors).padStart(8)}${String(m.latencies.length).padStart(7)}${l.p50.padStart(9)}${l.p99.padStart(9)}${l.max.padStart(9)}${`${r.p50}/${r.p99}`.padStart(17)}${String(m.connections).padStart(12)}${m.mailsPerSec.toFixed(1).padStart(9)}${String(m.requests.errors).padStart(8)}`,
  );
  for (const e of m.requests.errorSamples) console.log(`  error: ${e}`);
  if (m.missing) console.log(`  ${m.missing} mails not received within ${MAIL_WAIT_MS / 1000} s`);
}
const mailP99 = (phase: string) => {
  const m = mail.find((x) => x.phase === phase);
  return m && m.latencies.length ? quantile(m.latencies, 0.99) : NaN;
};
const mailOk = mail.every(
  (m) =>
    m.missing === 0 &&
    m.requests.errors === 0 &&
    m.latencies.length > 0 &&
    quantile(m.latencies, 0.99) < TARGET_MAIL_P99_MS,
);
console.log(`target mail p99 < ${int(TARGET_MAIL_P99_MS)} ms: ${mailOk ? 'met' : 'MISSED'}`);
console.log(
  '(request: the CIBA request that opens the ticket; SMTP conns: connections the server opened to the sink in the phase (pooled; smtp-server pauses 100 ms before each greeting); mails/s: first to last acceptance)\n',
);

const errors =
  elevation.run.errors +
  bare.run.errors +
  mail.reduce((a, m) => a + m.requests.errors + m.missing, 0);
const e = latencySummary(elevation.run.latenciesMs);
console.log(machineLoad());
console.log(
  `summary: ${int(rate(elevation))} elevations/s (target ${int(TARGET_PER_SEC)} ${met ? 'met' : 'missed'}; ${int(perCore(elevation))}/s per server core) vs ${int(rate(bare))}/s for the same CIBA request and poll on bare oidc-provider, ratio ${ratio.toFixed(2)}; elevation p50 ${e.p50} ms p99 ${e.p99} ms; ${sqlPerOp(elevation).toFixed(1)} SQL statements per elevation; approval mail p99 ${mailP99('steady').toFixed(0)} ms steady, ${mailP99('burst').toFixed(0)} ms burst (target ${int(TARGET_MAIL_P99_MS)} ms ${mailOk ? 'met' : 'missed'}); ${errors} errors; measured at ${commit}`,
);
