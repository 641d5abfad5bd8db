import { closeSync, createReadStream, createWriteStream, openSync, readSync } from 'node:fs';
import { appendFile, rename, rm, stat } from 'node:fs/promises';
import { finished } from 'node:stream/promises';
import { createInterface } from 'node:readline';
import type { AuditEvent } from '../observability/audit-event.ts';

/**
 * A first-in first-out queue of audit events in an NDJSON file, used when the in-memory queue is
 * full and to keep undelivered events across a restart.
 *
 * Reads advance a byte offset instead of rewriting the file, so draining a large spool costs one
 * pass. The offset lives in memory only: after a crash the already-read prefix is read again and
 * re-sent, which the server's idempotent ingest (by event id) absorbs. `compact()` drops the read
 * prefix for good. All file operations run one at a time, in call order.
 */
export class NdjsonSpool {
  readonly path: string;
  #offset = 0;
  #count: number;
  #pending: string[] = [];
  #chain: Promise<unknown> = Promise.resolve();
  /** Lines that were not valid JSON (a torn write before a crash) and were skipped. */
  corrupt = 0;

  constructor(path: string) {
    this.path = path;
    this.#count = countLines(path);
  }

  /** Events in the spool, written or about to be. */
  get size(): number {
    return this.#count;
  }

  /** Queues `event` for writing; writes are batched and happen in order. */
  append(event: AuditEvent): void {
    this.#pending.push(`${JSON.stringify(event)}\n`);
    this.#count += 1;
    if (this.#pending.length === 1)
      void this.#run(() => this.#writePending()).catch(() => undefined);
  }

  /** Resolves once every appended event is on disk. */
  async settle(): Promise<void> {
    await this.#run(() => this.#writePending());
  }

  /** Removes and returns up to `max` of the oldest events. */
  take(max: number): Promise<AuditEvent[]> {
    return this.#run(async () => {
      await this.#writePending();
      if (this.#count === 0 || max <= 0) return [];
      const events: AuditEvent[] = [];
      const input = createReadStream(this.path, { start: this.#offset });
      const lines = createInterface({ input, crlfDelay: Infinity });
      let consumed = 0;
      try {
        for await (const line of lines) {
          if (consumed >= max) break;
          this.#offset += Buffer.byteLength(line) + 1;
          if (line.trim() === '') continue;
          consumed += 1;
          try {
            events.push(JSON.parse(line) as AuditEvent);
          } catch {
            this.corrupt += 1;
          }
        }
      } finally {
        lines.close();
        input.destroy();
      }
      this.#count = Math.max(0, this.#count - consumed);
      const { size } = await stat(this.path).catch(() => ({ size: 0 }));
      if (this.#offset >= size) await this.#reset();
      return events;
    });
  }

  /** Rewrites the file without the already-read prefix (call at shutdown). */
  compact(): Promise<void> {
    return this.#run(async () => {
      await this.#writePending();
      if (this.#offset === 0) return;
      if (this.#count === 0) return this.#reset();
      const tmp = `${this.path}.tmp`;
      const out = createWriteStream(tmp);
      createReadStream(this.path, { start: this.#offset }).pipe(out);
      await finished(out);
      await rename(tmp, this.path);
      this.#offset = 0;
    });
  }

  async #reset(): Promise<void> {
    await rm(this.path, { force: true });
    this.#offset = 0;
    // Events appended while this operation awaited are still to be written.
    this.#count = this.#pending.length;
  }

  async #writePending(): Promise<void> {
    if (this.#pending.length === 0) return;
    const chunk = this.#pending.join('');
    this.#pending = [];
    await appendFile(this.path, chunk, { mode: 0o600 });
  }

  #run<T>(op: () => Promise<T>): Promise<T> {
    const next = this.#chain.then(op, op);
    this.#chain = next.catch(() => undefined);
    return next;
  }
}

/** Counts newline-terminated lines with a fixed buffer, so a large spool is not read into memory. */
function countLines(path: string): number {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw error;
  }
  try {
    const buffer = Buffer.alloc(64 * 1024);
    let count = 0;
    for (let n = readSync(fd, buffer); n > 0; n = readSync(fd, buffer)) {
      for (let i = 0; i < n; i++) if (buffer[i] === 10) count += 1;
    }
    return count;
  } finally {
    closeSync(fd);
  }
}
