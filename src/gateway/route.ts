import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Tracer } from '@opentelemetry/api';
import type { Registry } from 'prom-client';
import type { RequestWithBody } from '../verifier/http/body.ts';
import { metadataPath } from '../verifier/http/metadata.ts';
import { requestId } from '../verifier/http/routing-headers.ts';
import { createPipelineContext } from '../verifier/mcp/pipeline.ts';
import { unlistedResource } from '../verifier/policy-client/decisions.ts';
import {
  createMcpProtection,
  type McpProtection,
  type McpProtectionOptions,
} from '../verifier/protect.ts';
import { BreakerRegistry, type BreakerRegistryOptions } from '../verifier/resilience/breakers.ts';
import { isTaskCancelled } from '../verifier/resilience/classify.ts';
import { DEPENDENCY_FAILED, TIMEOUT, ToolError } from '../verifier/resilience/errors.ts';
import type { RateLimiterOptions } from '../verifier/resilience/rate-limit.ts';
import type { VerifiedToken } from '../verifier/token/types.ts';
import { isObject, reply, rpcError } from './answer.ts';
import { GatewayConfigError } from './config.ts';
import { clientResponseHeaders, upstreamRequestHeaders } from './headers.ts';
import { principalSigner } from './principal.ts';
import { clientGone, relay, writeFailure } from './relay.ts';
import { DEPENDENCY, toolCaller, type Message } from './tool-call.ts';
import { mediaType, relayFilteredEvents, relayToolsList } from './tools-list.ts';
import { discardBody, sendUpstream, upstreamAgent, upstreamFailure } from './upstream.ts';

/** Settings of one protected upstream (see `GatewayRouteSchema` for the documented defaults). */
export interface GatewayRouteOptions {
  /** Path served, e.g. `/mcp`. */
  path: string;
  /** Upstream MCP endpoint. */
  upstream: string;
  /** Public resource URL (token audience). */
  resource: string;
  /** The authorization server. */
  issuer: string;
  /** Extra headers sent upstream (lower-case names). */
  headers: Record<string, string>;
  timeoutMs: number;
  bodyLimitBytes: number;
  rateLimit: RateLimiterOptions | false;
  breaker: Omit<BreakerRegistryOptions, 'isFailure'>;
  /** Signed principal header; off when undefined. */
  principal?: { secret: string; header: string; ttlSeconds: number };
  /** The gateway's own client (client_credentials) for audit events; none → no audit. */
  clientId?: string;
  clientSecret?: string;
  /** Registry shared by every route. */
  metricsRegistry: Registry;
  tracer?: Pick<Tracer, 'startSpan'>;
  /** Further verifier settings (token verifier, policy client, audit client). */
  protection?: Pick<McpProtectionOptions, 'verifier' | 'policy' | 'audit' | 'fetch' | 'baseScopes'>;
}

/** A running route. */
export interface GatewayRoute {
  readonly path: string;
  readonly resource: string;
  readonly upstream: string;
  /** `/.well-known/oauth-protected-resource<path of resource>`. */
  readonly metadataPath: string;
  readonly protection: McpProtection;
  handle(req: IncomingMessage, res: ServerResponse): Promise<void>;
  close(): Promise<void>;
}

/** Longest tool name taken (MCP: tool names SHOULD be 1 to 128 characters). */
export const MAX_TOOL_NAME_LENGTH = 128;

/**
 * The refusal of a request the gateway cannot decide as the upstream may read it, else undefined.
 * Every `tools/call` is decided before it goes upstream, so one that could not be (params not an
 * object, a name that is not a string of 1 to {@link MAX_TOOL_NAME_LENGTH} characters) is
 * refused (-32602) rather than left to an upstream that might read it leniently; so is a method
 * that only a lenient reader would take for `tools/call` (`Tools/Call`, `tools/call `, -32601),
 * and MCP tasks (`tasks/*` -32601, a request with `params.task` -32602).
 */
function undecidableCall(rpc: Message): unknown {
  const id = requestId(rpc);
  if (typeof rpc.method !== 'string') return undefined;
  // MCP tasks (2025-11-25): a task's result is fetched later by its id alone, which the gateway
  // cannot yet tie to the caller that started it, so tasks are not relayed at all.
  if (rpc.method.startsWith('tasks/'))
    return rpcError(id, -32601, 'Method not found: MCP tasks are not relayed by the gateway');
  if (isObject(rpc.params) && rpc.params.task !== undefined)
    return rpcError(
      id,
      -32602,
      'Invalid params: task-augmented requests are not relayed by the gateway',
    );
  if (rpc.method !== 'tools/call') {
    return rpc.method.trim().toLowerCase() === 'tools/call'
      ? rpcError(id, -32601, 'Method not found')
      : undefined;
  }
  const name = isObject(rpc.params) ? rpc.params.name : undefined;
  if (typeof name !== 'string' || name.length === 0 || name.length > MAX_TOOL_NAME_LENGTH)
    return rpcError(
      id,
      -32602,
      `Invalid params: tools/call needs a tool name of 1 to ${MAX_TOOL_NAME_LENGTH} characters`,
    );
  return undefined;
}

/** Upstream trouble opens the breaker; a client that hangs up or sends bad input does not. */
function upstreamTrouble(error: Error): boolean {
  if (error instanceof ToolError) return error.code === DEPENDENCY_FAILED || error.code === TIMEOUT;
  return isTaskCancelled(error);
}

/**
 * One protected upstream (ARCHITECTURE.md §11): the verifier's HTTP guard (metadata, challenges, per-call
 * decisions) in front, then the request goes upstream without the caller's credentials, and the
 * answer streams back. `tools/call` runs in the verifier's tool pipeline (span, metrics, second
 * decision, rate limit per principal and tool, breaker, timeout, audit); `tools/list` answers are
 * filtered for the caller; every other exchange passes the breaker and streams through.
 * @throws PolicyClientError when the policy cannot be loaded at start; GatewayConfigError when
 *   the issuer's catalogue does not list the route's resource.
 */
export async function createGatewayRoute(options: GatewayRouteOptions): Promise<GatewayRoute> {
  const protection = await createMcpProtection({
    ...options.protection,
    issuer: options.issuer,
    resource: options.resource,
    clientId: options.clientId,
    clientSecret: options.clientSecret,
    metricsRegistry: options.metricsRegistry,
    http: { bodyLimitBytes: options.bodyLimitBytes },
  });
  // A resource the issuer does not list gets no tokens: every request would be refused, so say
  // so at start rather than serve a route nobody can use.
  const unlisted = unlistedResource(protection.policy.current(), options.resource);
  if (unlisted !== undefined) {
    await protection.close();
    throw new GatewayConfigError(`${options.path}: ${unlisted}`);
  }
  const breakers = new BreakerRegistry({ ...options.breaker, isFailure: upstreamTrouble });
  // The same shared parts as `protectMcpServer` builds once per protection.
  const ctx = createPipelineContext(
    {
      decide: protection.policy.decide,
      visible: protection.policy.visible,
      tracer: options.tracer,
      audit: protection.audit,
      breakers,
      rateLimit: options.rateLimit,
      defaults: { timeoutMs: options.timeoutMs, retry: false },
    },
    protection.metrics,
  );
  const agent = upstreamAgent();
  const sign =
    options.principal &&
    principalSigner({
      secret: options.principal.secret,
      issuer: options.resource,
      audience: options.upstream,
      ttlSeconds: options.principal.ttlSeconds,
    });
  const principalHeader = options.principal?.header.toLowerCase() ?? 'mcp-elevate-principal';
  const dropped = new Set([principalHeader]);
  const documentPath = metadataPath(options.resource);
  const publicUrl = new URL(options.resource);
  const publicRoute = { path: options.path, origin: publicUrl.origin };

  const upstreamHeaders = async (req: IncomingMessage, auth: VerifiedToken) =>
    upstreamRequestHeaders(
      req.headers,
      dropped,
      sign ? { ...options.headers, [principalHeader]: await sign(auth) } : options.headers,
      { publicUrl, peer: req.socket.remoteAddress },
    );
  const toolCall = toolCaller({
    ctx,
    upstream: options.upstream,
    route: publicRoute,
    agent,
    upstreamHeaders,
  });

  /** Everything but a tool call: through the breaker until the headers, then streamed. */
  async function exchange(
    req: IncomingMessage,
    res: ServerResponse,
    auth: VerifiedToken,
    message: Message | undefined,
    gone: AbortSignal,
  ): Promise<void> {
    const headers = await upstreamHeaders(req, auth);
    const body = message === undefined ? undefined : JSON.stringify(message);
    let upstream;
    try {
      upstream = await breakers.get(DEPENDENCY).execute(
        ({ signal }) =>
          sendUpstream(options.upstream, agent, {
            method: req.method!,
            headers,
            body,
            signal,
            headersTimeoutMs: options.timeoutMs,
            route: publicRoute,
          }),
        gone,
      );
    } catch (error) {
      return writeFailure(res, message?.id, upstreamFailure(error, breakers, DEPENDENCY));
    }
    try {
      const visible = (name: string) => protection.policy.visible(auth, name);
      const ok = upstream.statusCode >= 200 && upstream.statusCode < 300;
      if (message?.method === 'tools/list') {
        await relayToolsList(upstream, res, visible, gone);
      } else if (
        req.method === 'GET' &&
        ok &&
        mediaType(upstream.headers['content-type']) === 'text/event-stream'
      ) {
        // A resumed stream (Last-Event-ID) replays earlier answers: tool lists among them.
        await relayFilteredEvents(upstream, res, visible, gone);
      } else {
        res.writeHead(upstream.statusCode, clientResponseHeaders(upstream.headers));
        await relay(upstream.body, res, gone);
      }
    } catch (error) {
      discardBody(upstream.body);
      const failure =
        error instanceof ToolError ? error : upstreamFailure(error, breakers, DEPENDENCY);
      writeFailure(res, message?.id, failure, String(upstream.headers['content-type'] ?? ''));
    }
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const auth = await protection.guard(req, res);
    if (auth === undefined) return;
    const method = req.method ?? 'GET';
    if ((req.url ?? '/').split('?')[0] === documentPath)
      return reply(res, 405, { error: 'method_not_allowed' }, { Allow: 'GET, HEAD, OPTIONS' });
    if (method !== 'GET' && method !== 'POST' && method !== 'DELETE')
      return reply(res, 405, { error: 'method_not_allowed' }, { Allow: 'GET, POST, DELETE' });
    const cancel = clientGone(res);
    const gone = cancel.signal;
    if (method !== 'POST') return exchange(req, res, auth, undefined, gone);
    const message = (req as RequestWithBody).body;
    if (Array.isArray(message))
      return reply(res, 400, rpcError(null, -32600, 'JSON-RPC batches are not supported'));
    if (!isObject(message)) return reply(res, 400, rpcError(null, -32600, 'Invalid Request'));
    const rpc = message as Message;
    const undecidable = undecidableCall(rpc);
    if (undecidable !== undefined) return reply(res, 400, undecidable);
    if (rpc.method === 'tools/call') return toolCall(req, res, auth, rpc, cancel);
    return exchange(req, res, auth, rpc, gone);
  }

  return {
    path: options.path,
    resource: options.resource,
    upstream: options.upstream,
    metadataPath: documentPath,
    protection,
    handle,
    async close() {
      await agent.close().catch(() => undefined);
      await protection.close();
    },
  };
}
