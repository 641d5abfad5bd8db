/**
 * CPU cost of `protectMcpServer` per tool call, in process: the same `list_services` tool on an
 * McpServer reached over the SDK's InMemoryTransport, unprotected and protected (decision, rate
 * limit, breaker, timeout, metrics, span; the decision itself is a constant so that only the
 * protection is measured). Two patterns, as in bench/verifier-http.ts:
 * - stateful: one server, many `tools/call`s;
 * - stateless: per call a new McpServer, its protection, the tool, a transport and one call.
 * The protection is built once (`createToolProtection`, what `createMcpProtection` keeps) when the
 * verifier at BENCH_ROOT offers it, else per server (`protectMcpServer`), so one file measures an
 * older tree too. CPU time (user + system) of this process per call; the client's share is the same
 * in both variants, so the difference is the protection's. Runs alternate; medians are printed.
 * A diagnostic: the throughput target of the protection is measured over HTTP (bench/verifier-http.ts,
 * variant iv), where a call also costs the HTTP server and transport.
 *
 * Environment: BENCH_ROOT (tree whose src/verifier is measured; default this one), BENCH_CALLS
 * (calls per run, 4 000), BENCH_ROUNDS (5), BENCH_MODES (`stateful,stateless`).
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import type { AuthInfo } from '@modelcontextprotocol/sdk/server/auth/types.js';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import { measuredAt } from './lib/commit.ts';
import { envNumber, median } from './lib/stats.ts';

const root = resolve(process.env.BENCH_ROOT ?? new URL('..', import.meta.url).pathname);
const verifier = await import(pathToFileURL(`${root}/src/verifier/index.ts`).href);
const calls = Math.round(envNumber('BENCH_CALLS', 4_000));
const rounds = Math.round(envNumber('BENCH_ROUNDS', 5));

const auth: AuthInfo = {
  token: 't',
  clientId: 'agent',
  scopes: ['mcp:tools:read'],
  expiresAt: Math.floor(Date.now() / 1000) + 3600,
  extra: { subject: 'dev-1', roles: ['developer'] },
};
const options = {
  decide: () => ({ decision: 'allow' }),
  visible: () => true,
  rateLimit: false,
  metrics: verifier.createToolMetrics(),
};
type Protect = (server: McpServer) => { registerTool: McpServer['registerTool'] };
const protect: Protect =
  typeof verifier.createToolProtection === 'function'
    ? verifier.createToolProtection(options)
    : (server) => verifier.protectMcpServer(server, options);

const TOOL = { description: 'Lists services', annotations: { readOnlyHint: true } };
const result = () => ({ content: [{ type: 'text' as const, text: 'api, web, worker' }] });

function build(protectedTools: boolean): McpServer {
  const server = new McpServer({ name: 'bench', version: '1.0.0' });
  (protectedTools ? protect(server) : server).registerTool('list_services', TOOL, result);
  return server;
}

/** A connected pair; `call()` sends one tools/call straight to the server and awaits its answer. */
async function connect(server: McpServer) {
  const [client, serverSide] = InMemoryTransport.createLinkedPair();
  let waiting: ((message: JSONRPCMessage) => void) | undefined;
  client.onmessage = (message) => waiting?.(message);
  await server.connect(serverSide);
  await client.start();
  let id = 0;
  return {
    call: () =>
      new Promise<JSONRPCMessage>((done) => {
        waiting = done;
        void client.send(
          {
            jsonrpc: '2.0',
            id: ++id,
            method: 'tools/call',
            params: { name: 'list_services', arguments: {} },
          },
          { authInfo: auth },
        );
      }),
    close: () => server.close(),
  };
}

async function statefulRun(protectedTools: boolean): Promise<number> {
  const pair = await connect(build(protectedTools));
  const start = process.cpuUsage();
  for (let i = 0; i < calls; i++) {
    const answer = await pair.call();
    if (!('result' in answer)) throw new Error(`unexpected answer ${JSON.stringify(answer)}`);
  }
  const used = process.cpuUsage(start);
  await pair.close();
  return (used.user + used.system) / calls;
}

async function statelessRun(protectedTools: boolean): Promise<number> {
  const n = Math.ceil(calls / 4);
  const start = process.cpuUsage();
  for (let i = 0; i < n; i++) {
    const pair = await connect(build(protectedTools));
    const answer = await pair.call();
    if (!('result' in answer)) throw new Error(`unexpected answer ${JSON.stringify(answer)}`);
    await pair.close();
  }
  const used = process.cpuUsage(start);
  return (used.user + used.system) / n;
}

console.log(
  `protectMcpServer CPU per call, in process (${root}); ${calls} calls per run, ${rounds} rounds`,
);
// The commit of this checkout; with BENCH_ROOT elsewhere, the measured tree may be another one.
console.log(`measured at ${measuredAt()}`);
const protection =
  typeof verifier.createToolProtection === 'function' ? 'built once' : 'built per server';
const verdicts: string[] = [];
const modes = (process.env.BENCH_MODES ?? 'stateful,stateless').split(',');
for (const [mode, run] of (
  [
    ['stateful', statefulRun],
    ['stateless', statelessRun],
  ] as const
).filter(([m]) => modes.includes(m))) {
  await run(false);
  await run(true);
  const plain: number[] = [];
  const guarded: number[] = [];
  for (let r = 0; r < rounds; r++) {
    for (const protectedTools of r % 2 === 0 ? [false, true] : [true, false])
      (protectedTools ? guarded : plain).push(await run(protectedTools));
  }
  const [a, b] = [median(plain), median(guarded)];
  // The throughput a protected server loses, as CPU per call is what limits it on a busy core.
  const cost = 1 - a / b;
  verdicts.push(`${mode} +${(b - a).toFixed(1)} µs per call (${(cost * 100).toFixed(1)} %)`);
  console.log(
    `${mode.padEnd(10)} unprotected ${a.toFixed(1)} µs, protected ${b.toFixed(1)} µs, +${(b - a).toFixed(1)} µs per call, throughput cost ${(cost * 100).toFixed(1)} % (protection ${protection})`,
  );
}
console.log(
  `summary: protection's CPU per call over InMemoryTransport: ${verdicts.join('; ')} (no target here: an in-memory call is far cheaper than a served one, so the < 15 % throughput target is judged over HTTP by bench/verifier-http.ts); measured at ${measuredAt()}`,
);
