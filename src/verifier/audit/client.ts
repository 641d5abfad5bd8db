import { randomUUID } from 'node:crypto';
import type { AuditEvent, AuditEventInput, AuditSink } from '../observability/audit-event.ts';
import { redact } from '../observability/redact.ts';
import { backoffDelay } from '../resilience/backoff.ts';
import { NdjsonSpool } from './spool.ts';
import { createBatchSender } from './transport.ts';

/** Options of {@link createAuditClient}. */
export interface AuditClientOptions {
  /** The server's ingest endpoint, e.g. `https://auth.example/audit/v1/events`. */
  endpoint: string | URL;
  /** Access token of the MCP server's own client (client_credentials); called again after a 401. */
  getAccessToken: () => Promise<string>;
  /** Events per POST. Default: `100`. */
  batchSize?: number;
  /** Longest time an event waits before it is sent, in ms. Default: `1000`. */
  flushIntervalMs?: number;
  /** Events held in memory (queued plus in flight). Default: `10_000`. */
  maxQueue?: number;
  /**
   * NDJSON file that takes events beyond `maxQueue` and, at `close()`, whatever could not be
   * delivered; it is drained first on the next start. Default: none — beyond `maxQueue` the
   * oldest non-critical event is dropped (counted in `stats().dropped`).
   */
  spoolFile?: string;
  /** fetch implementation. Default: `globalThis.fetch`. */
  fetch?: typeof globalThis.fetch;
  /** Timeout of one POST, in ms. Default: `10_000`. */
  requestTimeoutMs?: number;
  /**
   * First delay after a failed POST, in ms; doubles per failure, each delay then drawn from 50–100 %
   * of that (jitter). Default: `1000`.
   */
  retryBaseMs?: number;
  /** Longest delay between failed POSTs, in ms (also caps `Retry-After`). Default: `30_000`. */
  retryMaxMs?: number;
  /** How long `close()` keeps retrying an unreachable endpoint, in ms. Default: `5000`. */
  closeTimeoutMs?: number;
  /** Told about failed and rejected deliveries (for logging). Default: none. */
  onError?: (error: Error) => void;
}

/** Counters of an audit client. */
export interface AuditStats {
  /** Events in memory waiting to be sent. */
  queued: number;
  /** Events in the POST under way. */
  inFlight: number;
  /** Events in the spool file. */
  spooled: number;
  /** Events the server accepted. */
  sent: number;
  /** Events dropped because memory was full and there is no spool. */
  dropped: number;
  /** Events in batches the server refused with a 4xx other than 401/408/429. */
  rejected: number;
  /** Failed POST attempts (the batches were kept and retried). */
  failedAttempts: number;
}

/** What {@link createAuditClient} returns. */
export interface AuditClient extends AuditSink {
  /**
   * Queues an event (params redacted, `id` and `time` added) and returns it. Denied and critical
   * events are sent at once, unless a failed POST is being backed off from.
   * @throws TypeError after `close()`.
   */
  record(event: AuditEventInput): AuditEvent;
  /** Sends everything queued now, ignoring any backoff; resolves when done or when a POST failed. */
  flush(): Promise<void>;
  /** Stops the timers, delivers what it can within `closeTimeoutMs`, spools the rest. */
  close(): Promise<AuditStats>;
  /** Current counters. */
  stats(): AuditStats;
}

/**
 * Creates the client that ships audit events to the server's ingest endpoint (ARCHITECTURE.md §7.7):
 * batched POSTs of `{ "events": [...] }` with `Authorization: Bearer <token>`. A failed POST puts
 * its batch back at the head of the queue and is retried with capped exponential backoff; the
 * server deduplicates by event id, so a batch that was stored but not acknowledged is harmless to
 * send again. Nothing is lost across an endpoint outage while memory (and the spool) hold out.
 */
export function createAuditClient(options: AuditClientOptions): AuditClient {
  const batchSize = options.batchSize ?? 100;
  const maxQueue = options.maxQueue ?? 10_000;
  const flushIntervalMs = options.flushIntervalMs ?? 1000;
  const retryBaseMs = options.retryBaseMs ?? 1000;
  const retryMaxMs = options.retryMaxMs ?? 30_000;
  const closeTimeoutMs = options.closeTimeoutMs ?? 5000;
  if (!(batchSize >= 1) || !(maxQueue >= 1))
    throw new TypeError('batchSize and maxQueue must be at least 1');
  const fetchImpl = options.fetch ?? globalThis.fetch;
  if (typeof options.getAccessToken !== 'function' || typeof fetchImpl !== 'function') {
    throw new TypeError('getAccessToken and fetch must be functions');
  }

  const send = createBatchSender({
    endpoint: options.endpoint,
    getAccessToken: options.getAccessToken,
    fetch: fetchImpl,
    requestTimeoutMs: options.requestTimeoutMs ?? 10_000,
  });
  const spool = options.spoolFile === undefined ? undefined : new NdjsonSpool(options.spoolFile);
  const queue: AuditEvent[] = [];
  const counts = { sent: 0, dropped: 0, rejected: 0, failedAttempts: 0 };
  let inFlight = 0;
  let failures = 0;
  let retryAt = 0;
  let retryTimer: ReturnType<typeof setTimeout> | undefined;
  let flushing: Promise<void> | undefined;
  let closing: Promise<AuditStats> | undefined;
  const report = (error: Error): void => {
    try {
      options.onError?.(error);
    } catch {
      // A failing logger must not stop delivery.
    }
  };

  const enqueue = (event: AuditEvent): void => {
    const full = queue.length + inFlight >= maxQueue;
    // Once events overflow to disk, later ones follow them there, so delivery keeps its order.
    if (spool !== undefined && (full || spool.size > 0)) return spool.append(event);
    if (full) {
      counts.dropped += 1;
      if (queue.length === 0) return; // everything held is in flight: the newcomer is the one dropped
      const victim = queue.findIndex((e) => e.critical !== true);
      queue.splice(victim === -1 ? 0 : victim, 1);
    }
    queue.push(event);
  };

  const refill = async (): Promise<void> => {
    const room = maxQueue - queue.length - inFlight;
    if (spool === undefined || spool.size === 0 || room <= 0) return;
    const at = queue.length; // events pushed while reading are newer than the spooled ones
    queue.splice(at, 0, ...(await spool.take(room)));
  };

  const scheduleRetry = (hintMs: number | undefined): void => {
    const delay =
      hintMs === undefined
        ? backoffDelay(failures, { baseMs: retryBaseMs, maxMs: retryMaxMs, jitter: [0.5, 1] })
        : Math.min(retryMaxMs, Math.max(retryBaseMs, hintMs));
    retryAt = Date.now() + delay;
    clearTimeout(retryTimer);
    if (closing === undefined) {
      retryTimer = setTimeout(() => void flushOnce(true), delay);
      retryTimer.unref();
    }
  };

  const drain = async (force: boolean): Promise<void> => {
    if (!force && Date.now() < retryAt) return;
    for (;;) {
      if (queue.length < batchSize) await refill();
      if (queue.length === 0) return;
      const batch = queue.splice(0, batchSize);
      inFlight = batch.length;
      const outcome = await send(batch);
      inFlight = 0;
      if (outcome.kind === 'delivered') {
        counts.sent += batch.length;
        failures = 0;
        retryAt = 0;
      } else if (outcome.kind === 'rejected') {
        counts.rejected += batch.length;
        report(
          new Error(`audit ingest rejected ${batch.length} events with HTTP ${outcome.status}`),
        );
      } else {
        queue.unshift(...batch);
        counts.failedAttempts += 1;
        failures += 1;
        scheduleRetry(outcome.retryAfterMs);
        report(new Error(`audit delivery failed (${outcome.reason}); ${queue.length} events kept`));
        return;
      }
    }
  };

  const flushOnce = (force: boolean): Promise<void> => {
    flushing ??= drain(force)
      .catch((error: unknown) => {
        // Only spool I/O can fail here; the events stay where they were.
        report(error instanceof Error ? error : new Error(String(error)));
        failures += 1;
        scheduleRetry(undefined);
      })
      .finally(() => {
        flushing = undefined;
      });
    return flushing;
  };

  const interval = setInterval(() => {
    if (queue.length > 0 || (spool?.size ?? 0) > 0) void flushOnce(false);
  }, flushIntervalMs);
  interval.unref();

  const stats = (): AuditStats => ({
    queued: queue.length,
    inFlight,
    spooled: spool?.size ?? 0,
    ...counts,
  });

  const shutdown = async (): Promise<AuditStats> => {
    clearInterval(interval);
    clearTimeout(retryTimer);
    const deadline = Date.now() + closeTimeoutMs;
    await flushing;
    for (;;) {
      await flushOnce(true);
      const remaining = deadline - Date.now();
      // With a spool, leftovers are safe on disk; without one, keep trying until the deadline.
      if (queue.length === 0 || spool !== undefined || remaining <= 0) break;
      const wait = Math.min(Math.max(retryAt - Date.now(), 10), remaining);
      await new Promise((resolve) => setTimeout(resolve, wait));
    }
    if (spool !== undefined) {
      for (const event of queue.splice(0)) spool.append(event);
      await spool.compact();
    }
    return stats();
  };

  return {
    record(input) {
      if (closing !== undefined) throw new TypeError('the audit client is closed');
      const event: AuditEvent = {
        id: randomUUID(),
        time: new Date().toISOString(),
        ...input,
        params: redact(input.params),
      };
      enqueue(event);
      if (event.result === 'denied' || event.critical === true || queue.length >= batchSize)
        void flushOnce(false);
      return event;
    },
    async flush() {
      await flushing;
      await flushOnce(true);
    },
    close() {
      closing ??= shutdown();
      return closing;
    },
    stats,
  };
}
