import type { IncomingMessage, ServerResponse } from 'node:http';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { Registry } from 'prom-client';
import { createAuditClient, type AuditClient, type AuditClientOptions } from './audit/client.ts';
import { auditTokens } from './audit/tokens.ts';
import type { ToolCall, ToolCallDecision } from './http/decide.ts';
import { expressAuth, type ExpressLikeRequest } from './http/express.ts';
import type { ResourceServerAuthOptions } from './http/guard.ts';
import { koaAuth, type KoaLikeContext } from './http/koa.ts';
import {
  metadataUrl,
  protectedResourceMetadata,
  type ProtectedResourceMetadata,
  type ProtectedResourceMetadataOptions,
} from './http/metadata.ts';
import { nodeHttpAuth } from './http/node.ts';
import { createToolProtection, type ProtectedMcpServer } from './mcp/protect.ts';
import type { ProtectOptions } from './mcp/types.ts';
import { createToolMetrics, type ToolMetrics } from './observability/metrics.ts';
import { RateLimiter, type RateLimitStore } from './resilience/rate-limit.ts';
import { primaryRole, principalOf } from './observability/principal.ts';
import {
  createPolicyClient,
  type PolicyClient,
  type PolicyClientOptions,
} from './policy-client/index.ts';
import { toAuthInfo } from './token/auth-info.ts';
import type { FetchLike, TokenVerifierOptions } from './token/options.ts';
import type { TokenVerifier, VerifiedToken } from './token/types.ts';
import { createTokenVerifier } from './token/verifier.ts';

/** Options of {@link createMcpProtection}. */
export interface McpProtectionOptions {
  /** The authorization server's issuer URL. Required. */
  issuer: string;
  /** This MCP server's resource URL (the `aud` of its tokens), e.g. `http://localhost:4000/mcp`. Required. */
  resource: string;
  /**
   * Scopes every token carries, put into every step-up challenge and advertised as the metadata's
   * `scopes_supported`. Default: the `baseScopes` of the server's policy.
   */
  baseScopes?: string[];
  /**
   * This MCP server's own OAuth client (client_credentials), used only to send audit events to
   * `<issuer>/audit/v1/events` with a token for resource `<issuer>/audit`, scope `audit:write`.
   * Default: none — without both `clientId` and `clientSecret` no audit events are sent.
   */
  clientId?: string;
  /** Secret of `clientId` (sent with client_secret_basic). Default: none. */
  clientSecret?: string;
  /** HTTP client for every outgoing request. Default `globalThis.fetch`. */
  fetch?: FetchLike;
  /** Further token verifier settings (see `createTokenVerifier`). Default: its defaults. */
  verifier?: Omit<TokenVerifierOptions, 'issuer' | 'resource' | 'fetch' | 'isRevoked'>;
  /** Further policy client settings, e.g. `localBundle` (see `createPolicyClient`). Default: its defaults. */
  policy?: Omit<PolicyClientOptions, 'issuer' | 'resource' | 'fetch'>;
  /** Further audit client settings, e.g. `spoolFile` (see `createAuditClient`). Default: its defaults. */
  audit?: Omit<AuditClientOptions, 'endpoint' | 'getAccessToken' | 'fetch'>;
  /** Overrides of the Protected Resource Metadata. Default: resource, issuer, base scopes, catalogue name. */
  metadata?: Partial<ProtectedResourceMetadataOptions>;
  /** Further `protectMcpServer` settings: `rateLimit`, `defaults`, `tracer`, `breakers`. Default: its defaults. */
  tools?: Pick<ProtectOptions, 'rateLimit' | 'defaults' | 'tracer' | 'breakers'>;
  /** Further HTTP guard settings. Default: its defaults. */
  http?: Pick<ResourceServerAuthOptions, 'bodyLimitBytes' | 'onError' | 'bindSessions'>;
  /** Metrics registry. Default: a new one (see `metricsRegistry`). */
  metricsRegistry?: Registry;
  /**
   * Where the tool rate limits (`tools.rateLimit`: calls per principal — subject and client —
   * and tool, per window) and the DPoP proof ids seen (each kept `2 × dpopMaxSkewSec` seconds)
   * are counted. Both are held once per protection, whatever the number of MCP servers and
   * sessions. `{ type: 'redis', client, keyPrefix? }` (an `ioredis` or node-redis 4+ client that
   * the application creates, connects and closes) shares them with every instance using that
   * Redis and key prefix, so replicas share budgets and refuse a proof replayed against any of
   * them; while Redis fails, each instance counts in its own memory. See `RateLimitStore`.
   * Default: `{ type: 'memory' }` — this instance only, at most `10_000` windows per limit.
   */
  rateLimitStore?: RateLimitStore;
}

/** What {@link createMcpProtection} returns: everything an MCP server needs, wired together. */
export interface McpProtection {
  verifier: TokenVerifier;
  policy: PolicyClient;
  /**
   * node:http guard (see `nodeHttpAuth`): serves the metadata, authenticates, decides tool calls.
   * Resolves the verified token (and sets `req.auth`), or `undefined` when it answered itself.
   */
  guard: (req: IncomingMessage, res: ServerResponse) => Promise<VerifiedToken | undefined>;
  /** The same as Express middleware (see `expressAuth`). */
  expressGuard: (
    req: ExpressLikeRequest,
    res: ServerResponse,
    next: (error?: unknown) => void,
  ) => void;
  /** The same as Koa middleware (see `koaAuth`). */
  koaGuard: (ctx: KoaLikeContext, next: () => Promise<unknown>) => Promise<void>;
  /**
   * Protects an `McpServer`: register tools on the result. Tool calls are decided again there,
   * which also covers transports without the HTTP guard. Call it for every server (one per
   * request or per session): rate limits, metrics and tool policies are shared by all of them.
   */
  protectMcpServer(server: McpServer): ProtectedMcpServer;
  /** This resource's Protected Resource Metadata document. */
  metadata: ProtectedResourceMetadata;
  /** Absolute URL of {@link metadata} (`resource_metadata`). */
  metadataUrl: string;
  /** The audit client, when `clientId` and `clientSecret` were given. */
  audit?: AuditClient;
  metrics: ToolMetrics;
  /** Serve `metricsRegistry.metrics()` on `/metrics`. */
  metricsRegistry: Registry;
  /** Stops background polling and delivers queued audit events (see the audit client's `close`). */
  close(): Promise<void>;
}

/** The one rate limiter of a protection: budgets must not depend on the server or session. */
function rateLimiter(
  option: ProtectOptions['rateLimit'],
  store: RateLimitStore | undefined,
): RateLimiter | false {
  if (option === false || option instanceof RateLimiter) return option;
  return new RateLimiter({ ...option, ...(store !== undefined && { store }) });
}

/**
 * One-call setup of a protected MCP server (ARCHITECTURE.md §7): a token verifier whose `isRevoked` reads
 * the policy client's revocation feed; the policy client (signed bundle or local file); HTTP
 * guards whose `decide` answers deny (JSON-RPC -32002) and step-up (403 challenge with the base
 * scopes plus the scope needed) before the MCP server runs; `protectMcpServer` with the same
 * policy for `tools/list` and every call; Prometheus metrics; and, given the server's own client
 * credentials, audit events for every decision and call.
 *
 * Refusals by the guard never reach `protectMcpServer`, so the guard records them itself: one
 * `mcp_auth_decisions_total` and `mcp_tool_requests_total{status="denied"}` sample and one
 * `denied` audit event each.
 *
 * Resolves once the policy is loaded and the revocation feed read once.
 * @throws PolicyClientError when the policy or the revocation feed cannot be obtained at start;
 *   TypeError on invalid options.
 */
export async function createMcpProtection(options: McpProtectionOptions): Promise<McpProtection> {
  const { issuer, resource } = options;
  const fetchImpl = options.fetch ?? globalThis.fetch;
  const policy = createPolicyClient({ ...options.policy, issuer, resource, fetch: fetchImpl });
  try {
    await policy.ready();
  } catch (error) {
    await policy.close();
    throw error;
  }
  const store = options.rateLimitStore;
  const verifier = createTokenVerifier({
    ...(store !== undefined && { dpopReplayStore: store }),
    ...options.verifier,
    issuer,
    resource,
    fetch: fetchImpl,
    isRevoked: policy.isRevoked,
  });
  const metrics = createToolMetrics({ registry: options.metricsRegistry });
  const baseScopes = () => options.baseScopes ?? policy.baseScopes();

  let audit: AuditClient | undefined;
  if (options.clientId !== undefined && options.clientSecret !== undefined) {
    audit = createAuditClient({
      ...options.audit,
      endpoint: `${issuer.replace(/\/$/, '')}/audit/v1/events`,
      getAccessToken: auditTokens(issuer, options.clientId, options.clientSecret, fetchImpl),
      fetch: fetchImpl as typeof globalThis.fetch,
    });
  }

  const decideAtEdge = async (auth: VerifiedToken, call: ToolCall): Promise<ToolCallDecision> => {
    const decision = await policy.decide(auth, call);
    if (decision.decision === 'allow') return decision;
    metrics.authDecisions.inc({ decision: decision.decision });
    metrics.toolRequests.inc({
      tool: metrics.toolLabel(call.name),
      status: 'denied',
      user_role: primaryRole(principalOf(toAuthInfo(auth))),
    });
    audit?.record({
      subject: auth.subject ?? auth.clientId,
      clientId: auth.clientId,
      tool: call.name,
      params: call.arguments,
      result: 'denied',
      decision: decision.decision,
      ...(auth.elevation !== undefined && { elevation: auth.elevation }),
    });
    // The SDK replaces its scope with the challenged one (ARCHITECTURE.md §5): base scopes must be in it.
    return decision.decision === 'step_up'
      ? { decision: 'step_up', scopes: [...baseScopes(), ...decision.scopes] }
      : decision;
  };

  const held = policy.current();
  const document = protectedResourceMetadata({
    resource,
    authorizationServers: [issuer],
    // Only the base scopes: the MCP SDK asks for every listed scope on its first authorization,
    // and elevated scopes are meant to be asked for one call at a time.
    scopesSupported: baseScopes(),
    dpopSigningAlgValuesSupported: [...(verifier.dpopAlgorithms ?? [])],
    ...(held?.catalogue.resources[resource] !== undefined && {
      resourceName: held.catalogue.resources[resource].name,
    }),
    ...options.metadata,
  });
  const guardOptions: ResourceServerAuthOptions = {
    ...options.http,
    verifier,
    metadata: {
      ...options.metadata,
      resource,
      authorizationServers: document.authorization_servers,
      scopesSupported: document.scopes_supported,
      resourceName: document.resource_name,
      dpopSigningAlgValuesSupported: document.dpop_signing_alg_values_supported,
    },
    decide: decideAtEdge,
  };

  return {
    verifier,
    policy,
    guard: nodeHttpAuth(guardOptions),
    expressGuard: expressAuth(guardOptions),
    koaGuard: koaAuth(guardOptions),
    protectMcpServer: createToolProtection({
      ...options.tools,
      rateLimit: rateLimiter(options.tools?.rateLimit, store),
      decide: policy.decide,
      // The guards above decide with the same policy: a call they allowed is not decided twice.
      guardDecide: decideAtEdge,
      visible: policy.visible,
      metrics,
      audit,
    }),
    metadata: document,
    metadataUrl: metadataUrl(resource),
    audit,
    metrics,
    metricsRegistry: metrics.registry,
    async close() {
      await policy.close();
      await audit?.close();
    },
  };
}
