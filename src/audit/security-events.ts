import type { AuditInput, AuditLog } from './audit-log.ts';

/** Events of one kind for one client written in full per window; the rest are counted. */
export const SECURITY_EVENTS_PER_CLIENT = 10;
/** Distinct client ids per window that get events of their own; others share one count. */
export const SECURITY_CLIENTS_PER_WINDOW = 100;
/** The window, in ms. */
export const SECURITY_WINDOW_MS = 60_000;

/** Audit actions of the security events. */
export const CLIENT_AUTH_FAILED = 'client.authentication_failed';
export const HINT_REFUSED = 'ciba.hint_refused';

interface Bucket {
  start: number;
  written: number;
  suppressed: number;
  reasons: Record<string, number>;
  action: string;
  result: string;
  clientId: string | null;
}

/**
 * Writes security events (failed client authentications, refused CIBA hints) to the audit log
 * with a bound on how many a flood can write, per instance. Rules:
 * - per (action, client id) and window of {@link SECURITY_WINDOW_MS}, the first
 *   {@link SECURITY_EVENTS_PER_CLIENT} events are written as they happen;
 * - further ones are counted, and written as one summary event when the window ends
 *   (`data.coalesced`: how many, `data.reasons`: how many of each reason, `data.from`/`to`);
 * - at most {@link SECURITY_CLIENTS_PER_WINDOW} client ids per window get buckets of their own
 *   (client ids are attacker-chosen): the others are counted under client id null;
 * - so a flood writes at most (per client + 1) × (clients + 1) events per action and window.
 */
export class SecurityEvents {
  readonly #audit: Pick<AuditLog, 'append'>;
  readonly #onError: (err: unknown) => void;
  readonly #now: () => number;
  readonly #buckets = new Map<string, Bucket>();
  readonly #writing = new Set<Promise<unknown>>();
  #timer: NodeJS.Timeout | undefined;

  constructor(
    audit: Pick<AuditLog, 'append'>,
    opts: { onError?: (err: unknown) => void; now?: () => number } = {},
  ) {
    this.#audit = audit;
    this.#onError = opts.onError ?? (() => {});
    this.#now = opts.now ?? Date.now;
  }

  /** Records one event (`reason` groups the summary's counts). */
  record(event: AuditInput & { clientId: string | null }, reason: string): void {
    const now = this.#now();
    this.#sweep(now);
    const keyOf = (clientId: string | null) => `${event.action}\u0000${clientId ?? ''}`;
    let bucket = this.#buckets.get(keyOf(event.clientId));
    if (!bucket) {
      let clientId = event.clientId;
      const owners = [...this.#buckets.values()].filter(
        (b) => b.action === event.action && b.clientId !== null,
      ).length;
      if (owners >= SECURITY_CLIENTS_PER_WINDOW) clientId = null;
      bucket = this.#buckets.get(keyOf(clientId));
      if (!bucket) {
        bucket = {
          start: now,
          written: 0,
          suppressed: 0,
          reasons: {},
          action: event.action,
          result: event.result,
          clientId,
        };
        this.#buckets.set(keyOf(clientId), bucket);
      }
    }
    if (bucket.written < SECURITY_EVENTS_PER_CLIENT) {
      bucket.written++;
      this.#write([{ ...event, clientId: bucket.clientId }]);
    } else {
      bucket.suppressed++;
      bucket.reasons[reason] = (bucket.reasons[reason] ?? 0) + 1;
    }
    if (!this.#timer) {
      this.#timer = setInterval(() => this.#sweep(this.#now()), 10_000);
      this.#timer.unref();
    }
  }

  /** Writes the summaries of every window, ended or not, and waits for every write (shutdown). */
  async flush(): Promise<void> {
    this.#sweep(Number.POSITIVE_INFINITY);
    clearInterval(this.#timer);
    this.#timer = undefined;
    await Promise.all(this.#writing);
  }

  #sweep(now: number): void {
    const summaries: AuditInput[] = [];
    for (const [key, b] of this.#buckets) {
      if (now - b.start < SECURITY_WINDOW_MS) continue;
      this.#buckets.delete(key);
      if (!b.suppressed) continue;
      const end = Math.min(now, b.start + SECURITY_WINDOW_MS);
      summaries.push({
        action: b.action,
        result: b.result,
        clientId: b.clientId,
        data: {
          coalesced: b.suppressed,
          reasons: b.reasons,
          from: new Date(b.start).toISOString(),
          to: new Date(end).toISOString(),
        },
      });
    }
    if (summaries.length) this.#write(summaries);
  }

  #write(events: AuditInput[]): void {
    const write = this.#audit.append(...events).catch(this.#onError);
    this.#writing.add(write);
    void write.finally(() => this.#writing.delete(write));
  }
}
