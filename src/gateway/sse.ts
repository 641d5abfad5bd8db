/**
 * Server-Sent Events (WHATWG HTML §9.2) at the byte level, for reading and rewriting an event
 * stream one event at a time without holding more than one event.
 *
 * Lines end with CRLF, LF or CR; an empty line ends an event. CR and LF bytes never occur inside
 * a multi-byte UTF-8 sequence, so events can be cut on raw bytes and decoded whole.
 */

const CR = 0x0d;
const LF = 0x0a;

/** Thrown when one event grows beyond the splitter's limit. */
export class SseEventTooLargeError extends Error {
  readonly code = 'ERR_SSE_EVENT_TOO_LARGE';
}

/** Cuts a byte stream into complete events (each with its terminating empty line). */
export class SseEventSplitter {
  readonly #max: number;
  #parts: Buffer[] = [];
  #size = 0;
  #lineEmpty = true;
  #afterCr = false;

  /**
   * @param maxEventBytes Largest event held; beyond it `push` throws
   *   {@link SseEventTooLargeError}.
   */
  constructor(maxEventBytes: number) {
    this.#max = maxEventBytes;
  }

  /** Feeds bytes; returns the events completed by them, as raw bytes. */
  push(chunk: Buffer): Buffer[] {
    const events: Buffer[] = [];
    let start = 0;
    for (let i = 0; i < chunk.length; i++) {
      const byte = chunk[i];
      if (this.#afterCr && byte === LF) {
        this.#afterCr = false;
        continue;
      }
      this.#afterCr = byte === CR;
      if (byte !== CR && byte !== LF) {
        this.#lineEmpty = false;
        continue;
      }
      if (!this.#lineEmpty) {
        this.#lineEmpty = true;
        continue;
      }
      // An empty line: the event ends here (a CR's LF, if any, leads the next event's bytes).
      this.#take(chunk.subarray(start, i + 1));
      events.push(Buffer.concat(this.#parts, this.#size));
      this.#parts = [];
      this.#size = 0;
      start = i + 1;
    }
    if (start < chunk.length) this.#take(chunk.subarray(start));
    return events;
  }

  /** Bytes of an unfinished event at the end of the stream (empty when none). */
  rest(): Buffer {
    return Buffer.concat(this.#parts, this.#size);
  }

  #take(bytes: Buffer): void {
    this.#size += bytes.length;
    if (this.#size > this.#max) throw new SseEventTooLargeError('server-sent event too large');
    this.#parts.push(bytes);
  }
}

function lines(event: string): string[] {
  return event.split(/\r\n|\r|\n/);
}

/** The `data` of an event (its data lines joined with LF), or undefined when it has none. */
export function eventData(event: string): string | undefined {
  const data = lines(event)
    .filter((line) => line === 'data' || line.startsWith('data:'))
    .map((line) => line.slice(5).replace(/^ /, ''));
  return data.length > 0 ? data.join('\n') : undefined;
}

/** The event with its data replaced by `data` (one line: JSON has no raw line breaks). */
export function withData(event: string, data: string): string {
  const kept = lines(event).filter(
    (line) => line !== '' && line !== 'data' && !line.startsWith('data:'),
  );
  return `${[...kept, `data: ${data}`].join('\n')}\n\n`;
}
