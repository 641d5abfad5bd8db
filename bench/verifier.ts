/**
 * Verifier throughput, in-process, one call at a time:
 * (a) decisions per second on a cached token — `verifier.verify(sameToken)` + `decide(...)`, the
 *     work of every tool call after the first — next to the same decision with a full
 *     `jose.jwtVerify` per call (no cache: the baseline) and `decide` alone (the floor);
 * (b) first-seen token verifications per second — each token distinct, so every call checks a
 *     signature — versus bare `jose.jwtVerify` with a local JWKS and the same ES256 key.
 * The key set is served by a local node:http issuer, discovered through its RFC 8414 metadata.
 *
 * Environment: BENCH_ROUNDS (5 for (a), twice that for (b); plus one warm-up round each),
 * BENCH_CACHED_ITERATIONS (100000 per round), BENCH_UNCACHED_ITERATIONS (2000 per round, the
 * no-cache baseline of (a)), BENCH_FIRST_SEEN_TOKENS (1000 distinct tokens per round of (b)).
 */
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createLocalJWKSet, jwtVerify } from 'jose';
import {
  CatalogueSchema,
  DEFAULT_ROLES,
  buildRoleGraph,
  decide,
  type ToolCall,
} from '../src/policy/index.ts';
import { createTokenVerifier } from '../src/verifier/index.ts';
import { startLocalIssuer } from './lib/local-issuer.ts';
import {
  envNumber,
  int,
  interleaved,
  machineLoad,
  median,
  rateAsync,
  rateSync,
  verdict,
} from './lib/stats.ts';
import { measuredAt } from './lib/commit.ts';

const RESOURCE = 'http://localhost:4000/mcp';
const TARGET_CACHED_PER_SEC = 100_000;
const TARGET_FIRST_SEEN_RATIO = 0.9;
const rounds = envNumber('BENCH_ROUNDS', 5);
const cachedIterations = envNumber('BENCH_CACHED_ITERATIONS', 100_000);
const uncachedIterations = envNumber('BENCH_UNCACHED_ITERATIONS', 2_000);
const firstSeenPerRound = envNumber('BENCH_FIRST_SEEN_TOKENS', 1_000);
// Each round of (b) is short, and noisier for it: twice the rounds.
const firstSeenRounds = 2 * rounds;

const catalogue = CatalogueSchema.parse(
  JSON.parse(await readFile(new URL('../scopes.json', import.meta.url), 'utf8')),
);
const roles = buildRoleGraph(DEFAULT_ROLES);
// One call per outcome, in rotation: allowed by a base scope, step-up to an elevated scope, denied by the role ceiling.
const calls: ToolCall[] = [
  { name: 'list_services', arguments: {} },
  {
    name: 'deploy_service',
    arguments: { service: 'billing', environment: 'staging', version: '1.4.2' },
  },
  { name: 'rollback_deployment', arguments: { service: 'billing', environment: 'production' } },
];
const expected = ['allow', 'step_up', 'deny'];

const issuer = await startLocalIssuer();
const claims = (subject: string) => ({
  sub: subject,
  client_id: subject,
  aud: RESOURCE,
  scope: catalogue.baseScopes.join(' '),
  roles: ['developer', 'viewer'],
  jti: randomUUID(),
  exp: Math.floor(Date.now() / 1000) + 3600,
});
const verifier = createTokenVerifier({ issuer: issuer.issuer, resource: RESOURCE });
const localKeys = createLocalJWKSet(issuer.jwks);
const bareVerify = (token: string) =>
  jwtVerify(token, localKeys, { issuer: issuer.issuer, audience: RESOURCE, typ: 'at+jwt' });

const decideFor = (
  subject: string,
  tokenRoles: readonly string[],
  scopes: readonly string[],
  i: number,
) =>
  decide({
    roles,
    catalogue,
    principal: { subject, roles: tokenRoles },
    call: calls[i % calls.length],
    tokenScopes: scopes,
    now: new Date(),
    resource: RESOURCE,
  });

// Sanity: the loops below measure the intended outcomes, and discovery works (this also warms the key set).
const token = await issuer.sign(claims('bench-agent'));
const verified = await verifier.verify(token);
const outcomes = calls.map(
  (_, i) => decideFor(verified.subject!, verified.roles, verified.scopes, i).decision,
);
if (outcomes.join() !== expected.join())
  throw new Error(`unexpected decisions ${outcomes.join()}, wanted ${expected.join()}`);

console.log(
  `verifier: ES256 at+jwt for ${RESOURCE}; one call at a time; a warm-up round, then the median of the rounds`,
);
const commit = measuredAt();
console.log(`measured at ${commit}`);
console.log(machineLoad());
console.log(
  `decisions rotate over ${calls.map((c, i) => `${c.name} (${expected[i]})`).join(', ')}\n`,
);

// (a) cached token
const cached: number[] = [];
const noCache: number[] = [];
const floor: number[] = [];
for (let round = 0; round <= rounds; round++) {
  const ours = await rateAsync(cachedIterations, async (i) => {
    const v = await verifier.verify(token);
    return decideFor(v.subject!, v.roles, v.scopes, i);
  });
  const baseline = await rateAsync(uncachedIterations, async (i) => {
    const { payload } = await bareVerify(token);
    return decideFor(payload.sub!, payload.roles as string[], String(payload.scope).split(' '), i);
  });
  const alone = rateSync(cachedIterations, (i) =>
    decideFor(verified.subject!, verified.roles, verified.scopes, i),
  );
  if (round === 0) continue;
  cached.push(ours);
  noCache.push(baseline);
  floor.push(alone);
}
const cachedRate = median(cached);
const noCacheRate = median(noCache);
console.log('(a) decisions per second, same token on every call');
console.log(
  `    verifier.verify (cached) + decide   ${int(cachedRate).padStart(10)} /s   (target >= ${int(TARGET_CACHED_PER_SEC)}: ${cachedRate >= TARGET_CACHED_PER_SEC ? 'met' : 'MISSED'})`,
);
console.log(
  `    jose.jwtVerify every call + decide  ${int(noCacheRate).padStart(10)} /s   (baseline: no cache)`,
);
console.log(
  `    decide alone                        ${int(median(floor)).padStart(10)} /s   (floor)`,
);
console.log(`    ratio cached/no-cache: ${(cachedRate / noCacheRate).toFixed(1)}x\n`);

// (b) first-seen tokens: every token distinct, all signed before any timing. Bare jose has no
// cache, so it verifies the very same tokens; the two alternate in chunks of 100.
const batches: string[][] = [];
for (let round = 0; round <= firstSeenRounds; round++) {
  batches.push(
    await Promise.all(
      Array.from({ length: firstSeenPerRound }, (_, i) =>
        issuer.sign(claims(`agent-${round}-${i}`)),
      ),
    ),
  );
}
const firstSeen: number[] = [];
const bare: number[] = [];
const ratios: number[] = [];
for (let round = 0; round <= firstSeenRounds; round++) {
  const batch = batches[round];
  const [ours, baseline] = await interleaved(
    batch.length,
    100,
    (i) => verifier.verify(batch[i]),
    (i) => bareVerify(batch[i]),
  );
  if (round === 0) continue;
  firstSeen.push(ours);
  bare.push(baseline);
  ratios.push(ours / baseline);
}
const firstSeenRate = median(firstSeen);
const bareRate = median(bare);
// Median of the per-round ratios: each round's pair ran under the same conditions.
const ratio = median(ratios);
console.log(
  `(b) first-seen token verifications per second (${int(firstSeenPerRound)} distinct tokens per round, ${firstSeenRounds} rounds)`,
);
console.log(`    verifier.verify (new token)          ${int(firstSeenRate).padStart(10)} /s`);
console.log(
  `    bare jose.jwtVerify + local JWKS     ${int(bareRate).padStart(10)} /s   (baseline)`,
);
console.log(
  `    ratio ours/bare: ${verdict(ratio, TARGET_FIRST_SEEN_RATIO)}   (median of per-round ratios; range ${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)})\n`,
);

await issuer.close();
console.log(machineLoad());
console.log(
  `summary: verifier ${int(cachedRate)} cached decisions/s (target ${int(TARGET_CACHED_PER_SEC)} ${cachedRate >= TARGET_CACHED_PER_SEC ? 'met' : 'missed'}, ${(cachedRate / noCacheRate).toFixed(1)}x no-cache); first-seen ${int(firstSeenRate)}/s vs bare jose ${int(bareRate)}/s, ratio ${ratio.toFixed(2)} (target ${TARGET_FIRST_SEEN_RATIO} ${ratio >= TARGET_FIRST_SEEN_RATIO ? 'met' : 'missed'}); measured at ${commit}`,
);
