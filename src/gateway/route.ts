import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Tracer } from '@opentelemetry/api';
import type { Registry } from 'prom-client';
import { JsonRpcParseError } from '../verifier/errors.ts';
import { readJsonRpcBody, type RequestWithBody } from '../verifier/http/body.ts';
import { challenge } from '../verifier/http/challenge.ts';
import { metadataPath } from '../verifier/http/metadata.ts';
import { createPipelineContext, runTool, toolPipeline } from '../verifier/mcp/pipeline.ts';
import {
  createMcpProtection,
  type McpProtection,
  type McpProtectionOptions,
} from '../verifier/protect.ts';
import { BreakerRegistry, type BreakerRegistryOptions } from '../verifier/resilience/breakers.ts';
import { isTaskCancelled } from '../verifier/resilience/classify.ts';
import {
  DEPENDENCY_FAILED,
  EXECUTION_FAILED,
  TIMEOUT,
  ToolError,
} from '../verifier/resilience/errors.ts';
import type { RateLimiterOptions } from '../verifier/resilience/rate-limit.ts';
import type { AuthenticatedRequest } from '../verifier/http/node.ts';
import { toAuthInfo } from '../verifier/token/auth-info.ts';
import type { VerifiedToken } from '../verifier/token/types.ts';
import {
  clientResponseHeaders,
  HEADER_MISMATCH,
  headerMismatch,
  upstreamRequestHeaders,
} from './headers.ts';
import { principalSigner } from './principal.ts';
import { clientGone, OutcomeSniffer, relay, writeFailure, type JsonRpcId } from './relay.ts';
import { SessionOwners } from './sessions.ts';
import { relayToolsList } from './tools-list.ts';
import { sendUpstream, upstreamAgent, upstreamFailure } from './upstream.ts';

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

interface Message {
  id?: JsonRpcId;
  method?: unknown;
  params?: { name?: unknown; arguments?: unknown };
}

const DEPENDENCY = 'upstream';
/** Settings of every tool of a route: one breaker for the upstream, the route's timeout. */
const TOOL_OPTIONS = { dependency: DEPENDENCY };
const NEVER = new AbortController().signal;
const ALLOWED = { decision: 'allow' } as const;
const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** Upstream trouble opens the breaker; a client that hangs up or sends bad input does not. */
function upstreamTrouble(error: Error): boolean {
  if (error instanceof ToolError) return error.code === DEPENDENCY_FAILED || error.code === TIMEOUT;
  return isTaskCancelled(error);
}

function reply(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  res.writeHead(status, {
    'Content-Type': 'application/json',
    'Cache-Control': 'no-store',
    ...headers,
  });
  res.end(JSON.stringify(body));
}

const rpcError = (id: JsonRpcId | undefined, code: number, message: string) => ({
  jsonrpc: '2.0',
  id: id ?? null,
  error: { code, message },
});

/**
 * One protected upstream (ARCHITECTURE.md §11): the verifier's HTTP guard (metadata, challenges, per-call
 * decisions) in front, then the request goes upstream without the caller's credentials, and the
 * answer streams back. `tools/call` runs in the verifier's tool pipeline (span, metrics, second
 * decision, rate limit per principal and tool, breaker, timeout, audit); `tools/list` answers are
 * filtered for the caller; every other exchange passes the breaker and streams through.
 * @throws PolicyClientError when the policy cannot be loaded at start.
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
  const sessions = new SessionOwners();
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

  const upstreamHeaders = async (req: IncomingMessage, auth: VerifiedToken) =>
    upstreamRequestHeaders(
      req.headers,
      dropped,
      sign ? { ...options.headers, [principalHeader]: await sign(auth) } : options.headers,
    );

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
          }),
        gone,
      );
    } catch (error) {
      return writeFailure(res, message?.id, upstreamFailure(error, breakers, DEPENDENCY));
    }
    sessions.learn(upstream.headers['mcp-session-id'], auth);
    if (req.method === 'DELETE' && upstream.statusCode < 300)
      sessions.forget(req.headers['mcp-session-id']);
    try {
      if (message?.method === 'tools/list' && message.id !== undefined) {
        await relayToolsList(
          upstream,
          res,
          message.id,
          (name) => protection.policy.visible(auth, name),
          gone,
        );
      } else {
        res.writeHead(upstream.statusCode, clientResponseHeaders(upstream.headers));
        await relay(upstream.body, res, gone);
      }
    } catch (error) {
      upstream.body.destroy();
      const failure =
        error instanceof ToolError ? error : upstreamFailure(error, breakers, DEPENDENCY);
      writeFailure(res, message?.id, failure, String(upstream.headers['content-type'] ?? ''));
    }
  }

  /** A `tools/call`, inside the verifier's tool pipeline; the upstream's answer streams through. */
  async function toolCall(
    req: IncomingMessage,
    res: ServerResponse,
    auth: VerifiedToken,
    message: Message,
    cancel: AbortController,
  ): Promise<void> {
    const name = message.params!.name as string;
    const args = isObject(message.params!.arguments) ? message.params!.arguments : {};
    const headers = await upstreamHeaders(req, auth);
    // Serialised again, not forwarded as received: the upstream must read what was decided
    // (a body with duplicate keys could otherwise mean one call here and another upstream).
    const body = JSON.stringify(message);
    let sentType = '';
    const exchangeOnce = async (_args: unknown, extra: { signal: AbortSignal }) => {
      // The attempt's signal (timeout) or the client hanging up stops the exchange: both abort
      // `cancel`, the request's one controller.
      const { signal } = cancel;
      const onTimeout = () => cancel.abort(extra.signal.reason);
      extra.signal.addEventListener('abort', onTimeout, { once: true });
      try {
        const upstream = await sendUpstream(options.upstream, agent, {
          method: 'POST',
          headers,
          body,
          signal,
          headersTimeoutMs: 0,
        });
        sessions.learn(upstream.headers['mcp-session-id'], auth);
        const sniffer = new OutcomeSniffer();
        sentType = String(upstream.headers['content-type'] ?? '');
        res.writeHead(upstream.statusCode, clientResponseHeaders(upstream.headers));
        try {
          await relay(upstream.body, res, signal, sniffer.push);
        } catch (error) {
          upstream.body.destroy();
          throw error;
        }
        const failed = upstream.statusCode >= 400 || sniffer.failed(sentType, message.id);
        return { content: [], ...(failed && { isError: true }) };
      } finally {
        extra.signal.removeEventListener('abort', onTimeout);
      }
    };
    try {
      // Not the client's signal as the pipeline's: the timeout policy reports a parent abort as a
      // timeout, and a client hanging up must not count against the upstream's breaker.
      const authInfo = (req as AuthenticatedRequest).auth ?? toAuthInfo(auth);
      const tool = toolPipeline(ctx, name, undefined, TOOL_OPTIONS);
      // The guard decided this very call (same token, same parsed body) and allowed it, or it
      // would have answered: that decision stands, it is not taken a second time.
      await runTool(ctx, tool, exchangeOnce, args, { signal: NEVER, authInfo }, ALLOWED);
    } catch (error) {
      // The pipeline rejects with ToolErrors only (an open breaker is -32004 with retryAfterMs).
      writeFailure(
        res,
        message.id,
        error instanceof ToolError
          ? error
          : new ToolError(EXECUTION_FAILED, `Tool ${name} failed`, { retryable: false }),
        sentType,
      );
    }
  }

  /**
   * Checks `Mcp-Method` / `Mcp-Name` before the guard decides: a call must not be challenged or
   * refused on a body its routing headers contradict. Only requests carrying them are read here;
   * the guard then reuses the parsed body. Answers and resolves true when the request is refused.
   */
  async function refuseMismatch(req: IncomingMessage, res: ServerResponse): Promise<boolean> {
    if (
      req.method !== 'POST' ||
      (req.headers['mcp-method'] === undefined && req.headers['mcp-name'] === undefined)
    )
      return false;
    let message: unknown;
    try {
      message = await readJsonRpcBody(req, options.bodyLimitBytes);
    } catch (error) {
      if (error instanceof JsonRpcParseError)
        reply(res, 400, rpcError(null, -32700, 'Parse error'));
      else {
        const answer = challenge(error, { resourceMetadataUrl: protection.metadataUrl });
        reply(res, answer.status, answer.body, { ...answer.headers, Connection: 'close' });
      }
      return true;
    }
    if (!isObject(message)) return false;
    const mismatch = headerMismatch(req.headers, message);
    if (mismatch === undefined) return false;
    const id = typeof message.id === 'string' || typeof message.id === 'number' ? message.id : null;
    reply(res, 400, rpcError(id, HEADER_MISMATCH, mismatch));
    return true;
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (await refuseMismatch(req, res)) return;
    const auth = await protection.guard(req, res);
    if (auth === undefined) return;
    const method = req.method ?? 'GET';
    if ((req.url ?? '/').split('?')[0] === documentPath)
      return reply(res, 405, { error: 'method_not_allowed' }, { Allow: 'GET, HEAD, OPTIONS' });
    if (method !== 'GET' && method !== 'POST' && method !== 'DELETE')
      return reply(res, 405, { error: 'method_not_allowed' }, { Allow: 'GET, POST, DELETE' });
    if (!sessions.mayUse(req.headers['mcp-session-id'], auth)) {
      // Someone else's session: answered as an unknown one, which tells nothing about it.
      return reply(res, 404, rpcError(null, -32001, 'Session not found'));
    }
    const cancel = clientGone(res);
    const gone = cancel.signal;
    if (method !== 'POST') return exchange(req, res, auth, undefined, gone);
    const message = (req as RequestWithBody).body;
    if (Array.isArray(message))
      return reply(res, 400, rpcError(null, -32600, 'JSON-RPC batches are not supported'));
    if (!isObject(message)) return reply(res, 400, rpcError(null, -32600, 'Invalid Request'));
    const rpc = message as Message;
    if (rpc.method === 'tools/call' && isObject(rpc.params) && typeof rpc.params.name === 'string')
      return toolCall(req, res, auth, rpc, cancel);
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
