import { isBrokenCircuitError } from 'cockatiel';
import { Agent, request, type Dispatcher } from 'undici';
import type { BreakerRegistry } from '../verifier/resilience/breakers.ts';
import { isNetworkError } from '../verifier/resilience/classify.ts';
import { DEPENDENCY_FAILED, TIMEOUT, ToolError } from '../verifier/resilience/errors.ts';
import { publicLocations, type PublicRoute } from './location.ts';

/** A response of the upstream, headers received, body still streaming. */
export type UpstreamResponse = Dispatcher.ResponseData;

/** What one upstream request needs. */
export interface UpstreamRequest {
  method: string;
  headers: Record<string, string | string[]>;
  body?: string;
  signal: AbortSignal;
  /** Longest wait for the response headers in ms; `0` leaves it to `signal`. */
  headersTimeoutMs: number;
  /** Where the route is served: the response's `Location` is mapped onto it (`publicLocations`). */
  route: PublicRoute;
}

const UPSTREAM_FAILED = 'The upstream MCP server is unavailable';

/**
 * The HTTP client of one upstream: a keep-alive connection pool. Bodies have no idle timeout,
 * because SSE streams may be quiet for long; tool calls are bounded by their own timeout.
 */
export function upstreamAgent(): Agent {
  return new Agent({
    keepAliveTimeout: 30_000,
    bodyTimeout: 0,
    headersTimeout: 0,
    connect: { timeout: 10_000 },
  });
}

/**
 * Sends one request upstream. Failures become {@link ToolError}s written for the client, never
 * carrying the upstream's address or error text: no connection or a 5xx answer → -32004
 * (dependency failed, retryable); no headers in time → -32001 (timeout). A 5xx body is discarded
 * unread. Errors after `signal` aborted are rethrown as they are (the caller knows why).
 */
export async function sendUpstream(
  url: string,
  agent: Dispatcher,
  req: UpstreamRequest,
): Promise<UpstreamResponse> {
  let response: UpstreamResponse;
  try {
    response = await request(url, {
      method: req.method as Dispatcher.HttpMethod,
      headers: req.headers,
      body: req.body,
      signal: req.signal,
      dispatcher: agent,
      headersTimeout: req.headersTimeoutMs,
      bodyTimeout: 0,
    });
  } catch (error) {
    if (req.signal.aborted) throw error;
    if ((error as { code?: unknown }).code === 'UND_ERR_HEADERS_TIMEOUT') {
      throw new ToolError(
        TIMEOUT,
        'The upstream MCP server did not answer in time',
        { retryable: true, suggestedAction: 'Retry later.' },
        { cause: error },
      );
    }
    throw new ToolError(
      DEPENDENCY_FAILED,
      UPSTREAM_FAILED,
      { retryable: true, suggestedAction: 'Retry later.' },
      { cause: error },
    );
  }
  if (response.statusCode >= 500) {
    discardBody(response.body);
    throw new ToolError(DEPENDENCY_FAILED, UPSTREAM_FAILED, {
      retryable: true,
      suggestedAction: 'Retry later.',
    });
  }
  publicLocations(response.headers, url, req.route);
  return response;
}

/**
 * Stops reading an upstream body and frees its connection. Destroying an undici body before its
 * end emits an `error` (`RequestAbortedError`); with nobody listening that would end the process,
 * so every body the gateway gives up on goes through here.
 */
export function discardBody(body: UpstreamResponse['body']): void {
  body.on('error', () => undefined);
  body.destroy();
}

/**
 * Maps any failure of an upstream exchange outside a tool call to a client-safe {@link ToolError}:
 * an open breaker → -32004 with `retryAfterMs`; network failures → -32004; a `ToolError` as is.
 */
export function upstreamFailure(
  error: unknown,
  breakers: BreakerRegistry,
  dependency: string,
): ToolError {
  if (error instanceof ToolError) return error;
  if (isBrokenCircuitError(error)) {
    return new ToolError(
      DEPENDENCY_FAILED,
      UPSTREAM_FAILED,
      {
        retryable: true,
        retryAfterMs: breakers.retryAfterMs(dependency),
        suggestedAction:
          'Retry after retryAfterMs; the upstream is failing and requests to it are paused.',
      },
      { cause: error },
    );
  }
  return new ToolError(
    DEPENDENCY_FAILED,
    UPSTREAM_FAILED,
    { retryable: isNetworkError(error) },
    { cause: error },
  );
}
