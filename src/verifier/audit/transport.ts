import type { AuditEvent } from '../observability/audit-event.ts';

/** Outcome of one delivery attempt of a batch. */
export type DeliveryOutcome =
  | { kind: 'delivered' }
  /** Worth trying again later (network error, 5xx, 408, 429, repeated 401). */
  | { kind: 'retry'; retryAfterMs?: number; reason: string }
  /** The server refused the batch itself (other 4xx); sending it again cannot help. */
  | { kind: 'rejected'; status: number };

/** Options of {@link createBatchSender}. */
export interface BatchSenderOptions {
  endpoint: string | URL;
  getAccessToken: () => Promise<string>;
  fetch: typeof globalThis.fetch;
  requestTimeoutMs: number;
}

/**
 * Returns a function that POSTs `{ "events": [...] }` with the bearer token, caching the token
 * between calls. A 401 means the token expired or was revoked: it is refreshed once and the
 * request repeated; a second 401 is treated as a transient failure, so the batch stays queued.
 */
export function createBatchSender(
  options: BatchSenderOptions,
): (batch: AuditEvent[]) => Promise<DeliveryOutcome> {
  let token: string | undefined;

  const send = async (body: string, fresh: boolean): Promise<Response | DeliveryOutcome> => {
    try {
      if (token === undefined || fresh) token = await options.getAccessToken();
    } catch {
      token = undefined;
      return { kind: 'retry', reason: 'access token unavailable' };
    }
    try {
      const response = await options.fetch(options.endpoint, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body,
        signal: AbortSignal.timeout(options.requestTimeoutMs),
      });
      // Drain the body so the connection can be reused.
      await response.arrayBuffer().catch(() => undefined);
      return response;
    } catch (error) {
      return { kind: 'retry', reason: error instanceof Error ? error.message : 'network error' };
    }
  };

  return async (batch) => {
    const body = JSON.stringify({ events: batch });
    let response = await send(body, false);
    if (!('kind' in response) && response.status === 401) response = await send(body, true);
    if ('kind' in response) return response;
    if (response.ok) return { kind: 'delivered' };
    const { status } = response;
    if (status === 401 || status === 408 || status === 429 || status >= 500) {
      return {
        kind: 'retry',
        retryAfterMs: retryAfterMs(response.headers.get('retry-after')),
        reason: `HTTP ${status}`,
      };
    }
    return { kind: 'rejected', status };
  };
}

/** `Retry-After` in ms (seconds or an HTTP date), or undefined when absent or unreadable. */
function retryAfterMs(header: string | null): number | undefined {
  if (header === null) return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(header);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}
