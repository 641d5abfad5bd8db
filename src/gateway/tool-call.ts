import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Agent } from 'undici';
import type { AuthenticatedRequest } from '../verifier/http/node.ts';
import { ALLOW, runTool, toolPipeline, type PipelineContext } from '../verifier/mcp/pipeline.ts';
import { EXECUTION_FAILED, ToolError } from '../verifier/resilience/errors.ts';
import { toAuthInfo } from '../verifier/token/auth-info.ts';
import type { VerifiedToken } from '../verifier/token/types.ts';
import { isObject } from './answer.ts';
import { clientResponseHeaders } from './headers.ts';
import type { PublicRoute } from './location.ts';
import { OutcomeSniffer, relay, writeFailure, type JsonRpcId } from './relay.ts';
import { discardBody, sendUpstream } from './upstream.ts';

/** A JSON-RPC request as the gateway reads it. */
export interface Message {
  id?: JsonRpcId;
  method?: unknown;
  params?: { name?: unknown; arguments?: unknown; task?: unknown };
}

/** What a route shares with its tool calls. */
export interface ToolCallDeps {
  /** The route's tool pipeline (rate limit, breaker of the upstream, timeout, metrics, audit). */
  ctx: PipelineContext;
  upstream: string;
  /** Where the route is served (an upstream `Location` is mapped onto it). */
  route: PublicRoute;
  agent: Agent;
  /** The headers sent upstream for this request (the caller's token never among them). */
  upstreamHeaders(
    req: IncomingMessage,
    auth: VerifiedToken,
  ): Promise<Record<string, string | string[]>>;
}

/** The one breaker of a route's upstream; every tool of the route runs with the route's timeout. */
export const DEPENDENCY = 'upstream';
const TOOL_OPTIONS = { dependency: DEPENDENCY };
const NEVER = new AbortController().signal;

/**
 * A route's `tools/call` handler: the call runs inside the verifier's tool pipeline and the
 * upstream's answer streams through as it arrives. `message` is a `tools/call` with a string
 * `params.name`, already allowed by the route's guard; `cancel` aborts when the client hangs up.
 */
export function toolCaller(
  deps: ToolCallDeps,
): (
  req: IncomingMessage,
  res: ServerResponse,
  auth: VerifiedToken,
  message: Message,
  cancel: AbortController,
) => Promise<void> {
  return toolCall;

  async function toolCall(
    req: IncomingMessage,
    res: ServerResponse,
    auth: VerifiedToken,
    message: Message,
    cancel: AbortController,
  ): Promise<void> {
    const name = message.params!.name as string;
    const args = isObject(message.params!.arguments) ? message.params!.arguments : {};
    const headers = await deps.upstreamHeaders(req, auth);
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
        const upstream = await sendUpstream(deps.upstream, deps.agent, {
          method: 'POST',
          headers,
          body,
          signal,
          headersTimeoutMs: 0,
          route: deps.route,
        });
        const sniffer = new OutcomeSniffer();
        sentType = String(upstream.headers['content-type'] ?? '');
        res.writeHead(upstream.statusCode, clientResponseHeaders(upstream.headers));
        try {
          await relay(upstream.body, res, signal, sniffer.push);
        } catch (error) {
          discardBody(upstream.body);
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
      const tool = toolPipeline(deps.ctx, name, undefined, TOOL_OPTIONS);
      // The guard decided this very call (same token, same parsed body) and allowed it, or it
      // would have answered: that decision stands, it is not taken a second time.
      await runTool(deps.ctx, tool, exchangeOnce, args, { signal: NEVER, authInfo }, ALLOW);
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
}
