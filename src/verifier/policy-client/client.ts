import type { ToolCall } from '../../policy/index.ts';
import { TemporarilyUnavailableError } from '../errors.ts';
import type { ToolCallDecision } from '../http/decide.ts';
import { createKeyStore } from '../token/jwks.ts';
import { createBundleFetcher, loadLocalBundle, type Policy } from './bundle.ts';
import { decideWith, visibleWith, type Caller } from './decisions.ts';
import { PolicyClientError } from './errors.ts';
import { jittered } from '../resilience/backoff.ts';
import { refreshDelay, startLoop, type Loop } from './loop.ts';
import { resolvePolicyClientOptions, type PolicyClientOptions } from './options.ts';
import { createRevocationReader, RevocationSet } from './revocations.ts';

/** Counters and state of a policy client, for health checks and logs. */
export interface PolicyClientStats {
  /** Version of the policy in use; undefined until one is loaded. */
  policyVersion?: string;
  policySource?: 'bundle' | 'file';
  /** When the policy in use was last fetched or confirmed unchanged (304). */
  policyCheckedAt?: Date;
  /** Revoked elevation ids held. */
  revoked: number;
  /** Cursor of the next revocation poll. */
  revocationCursor: string;
  /** When the revocation feed was last read completely. */
  revocationsSyncedAt?: Date;
  /** The last failure of each background task, cleared by its next success. */
  lastPolicyError?: PolicyClientError;
  lastRevocationError?: PolicyClientError;
}

/** What {@link createPolicyClient} returns. */
export interface PolicyClient {
  /**
   * Resolves once a policy is loaded and the revocation feed has been read once; rejects with the
   * reason (a {@link PolicyClientError}) when either first attempt failed. Background attempts go
   * on regardless, so calling it again later may resolve.
   */
  ready(): Promise<void>;
  /** The policy in use, or undefined before the first load. */
  current(): Policy | undefined;
  /**
   * Decides a tool call: `allow`, `deny` (reason, `requiredRole`) or `step_up` (the scope to ask
   * for). Fits both `decide` options: the HTTP guard's and `protectMcpServer`'s.
   * @throws TemporarilyUnavailableError (→ 503) when no policy could be loaded yet.
   */
  decide(caller: Caller, call: ToolCall): Promise<ToolCallDecision>;
  /** Whether `tools/list` shows `toolName` to the caller; `false` while no policy is loaded. */
  visible(caller: Caller, toolName: string): Promise<boolean>;
  /** For the token verifier's `isRevoked` option: true when the elevation was revoked. */
  isRevoked(elevationId: string): boolean;
  /** Base scopes of the policy in use (`[]` before the first load). */
  baseScopes(): string[];
  /** Revalidates the bundle now (no-op for a local file). */
  refresh(): Promise<void>;
  /** Polls the revocation feed now, until caught up. */
  syncRevocations(): Promise<void>;
  stats(): PolicyClientStats;
  /** Stops background work and aborts requests under way. */
  close(): Promise<void>;
}

/**
 * Creates the policy client of an MCP server (ARCHITECTURE.md §7.3): the role and scope policy from the
 * server's signed bundle (revalidated every `refreshMs` with If-None-Match; the last good policy
 * is kept whenever a refresh fails or is refused) or from a local file, and revoked elevations
 * from the server's signed revocation feed, polled every `revocationPollMs` (≤ 10 s).
 *
 * Signed documents are checked against the issuer's JWKS through the token verifier's key store
 * implementation (discovery, cache, single flight, circuit breaker) with the verifier's default
 * settings; `TokenVerifier` does not expose its instance, so this client holds its own.
 *
 * @throws TypeError on invalid options.
 */
export function createPolicyClient(options: PolicyClientOptions): PolicyClient {
  const o = resolvePolicyClientOptions(options);
  const nowMs = () => o.currentDate().getTime();
  const closing = new AbortController();
  const getKey = createKeyStore({
    issuer: o.issuer,
    jwksUri: o.jwksUri,
    fetch: o.fetch,
    fetchTimeoutMs: o.fetchTimeoutMs,
    maxAgeMs: 600_000,
    cooldownMs: 30_000,
    breakerThreshold: 3,
    breakerHalfOpenAfterMs: 30_000,
    now: nowMs,
  });
  const io = {
    issuer: o.issuer,
    fetch: o.fetch,
    getKey,
    algorithms: o.algorithms,
    timeoutMs: o.fetchTimeoutMs,
    signal: closing.signal,
  };
  const fetchBundle = createBundleFetcher({ ...io, now: o.currentDate });
  const readPage = createRevocationReader(io);
  const revoked = new RevocationSet(o.revocationRetentionMs, o.maxRevoked, nowMs);
  const stats: PolicyClientStats = { revoked: 0, revocationCursor: '0' };
  let policy: Policy | undefined;

  const report = (error: unknown): PolicyClientError => {
    const known =
      error instanceof PolicyClientError
        ? error
        : new PolicyClientError('ERR_POLICY_INVALID', 'unexpected policy client failure', {
            cause: error,
          });
    // Requests aborted by close() are not failures worth reporting.
    if (closing.signal.aborted) return known;
    try {
      o.onError(known);
    } catch {
      // A failing logger must not stop the refresh loops.
    }
    return known;
  };

  const loadPolicy = async (): Promise<void> => {
    try {
      const next =
        o.localBundle !== undefined
          ? await loadLocalBundle(o.localBundle)
          : await fetchBundle(policy);
      if (next !== undefined) policy = next;
      stats.policyCheckedAt = o.currentDate();
      stats.lastPolicyError = undefined;
    } catch (error) {
      throw (stats.lastPolicyError = report(error));
    }
  };

  const pollRevocations = async (): Promise<void> => {
    try {
      // Pages hold at most a few hundred ids; keep reading until the feed has nothing newer.
      for (;;) {
        const since = stats.revocationCursor;
        const page = await readPage(since);
        for (const r of page.revoked) revoked.add(r.elevation, r.revokedAtMs, nowMs());
        stats.revocationCursor = page.next;
        if (page.revoked.length === 0 || page.next === since) break;
      }
      revoked.prune();
      stats.revocationsSyncedAt = o.currentDate();
      stats.lastRevocationError = undefined;
    } catch (error) {
      throw (stats.lastRevocationError = report(error));
    }
  };

  // A local file is read once: a static setup changes its policy by restarting.
  const policyLoop: Loop =
    o.localBundle !== undefined
      ? { runNow: loadPolicy, stop: () => undefined }
      : startLoop(loadPolicy, (failures) => refreshDelay(o.refreshMs, failures));
  const firstPolicy = o.localBundle !== undefined ? loadPolicy() : policyLoop.runNow();
  // Jitter only shortens the interval, so the 10 s promise holds.
  const revocationLoop = startLoop(pollRevocations, () => jittered(o.revocationPollMs, [0.9, 1]));
  const firstRevocations = revocationLoop.runNow();
  firstPolicy.catch(() => undefined);
  firstRevocations.catch(() => undefined);

  const loaded = async (): Promise<Policy | undefined> => {
    if (policy === undefined) await firstPolicy.catch(() => undefined);
    return policy;
  };

  return {
    async ready() {
      if (policy === undefined) await firstPolicy.catch(() => policyLoop.runNow());
      if (stats.revocationsSyncedAt === undefined)
        await firstRevocations.catch(() => revocationLoop.runNow());
    },
    current: () => policy,
    async decide(caller, call) {
      const held = await loaded();
      if (held === undefined)
        throw new TemporarilyUnavailableError('authorization policy unavailable');
      return decideWith(held, o.resource, caller, call, o.currentDate());
    },
    async visible(caller, toolName) {
      const held = await loaded();
      return held !== undefined && visibleWith(held, o.resource, caller, toolName);
    },
    isRevoked(elevationId) {
      if (revoked.has(elevationId)) return true;
      const synced = stats.revocationsSyncedAt?.getTime() ?? Number.NEGATIVE_INFINITY;
      return nowMs() - synced > o.revocationMaxStalenessMs;
    },
    baseScopes: () => [...(policy?.catalogue.baseScopes ?? [])],
    refresh: () => policyLoop.runNow(),
    syncRevocations: () => revocationLoop.runNow(),
    stats: () => ({
      ...stats,
      policyVersion: policy?.version,
      policySource: policy?.source,
      revoked: revoked.size,
    }),
    async close() {
      policyLoop.stop();
      revocationLoop.stop();
      closing.abort();
    },
  };
}
