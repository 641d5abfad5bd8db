import { connect, type Socket } from 'node:net';

type Reply = string | number | null | Reply[] | Error;

/**
 * Just enough of a Redis client for the tests, in the shape of node-redis 4+
 * (`eval(script, { keys, arguments })`), since no Redis client package is installed: RESP2 over
 * one TCP connection, commands answered in order. `sendCommand` serves set-up and clean-up.
 */
export class RespClient {
  readonly #socket: Socket;
  readonly #pending: Array<{ resolve: (reply: Reply) => void; reject: (error: Error) => void }> =
    [];
  #buffer = Buffer.alloc(0);

  private constructor(socket: Socket) {
    this.#socket = socket;
    socket.on('data', (chunk: Buffer) => {
      this.#buffer = Buffer.concat([this.#buffer, chunk]);
      for (
        let parsed = parse(this.#buffer, 0);
        parsed !== undefined;
        parsed = parse(this.#buffer, 0)
      ) {
        this.#buffer = this.#buffer.subarray(parsed.end);
        const waiter = this.#pending.shift();
        if (parsed.reply instanceof Error) waiter?.reject(parsed.reply);
        else waiter?.resolve(parsed.reply);
      }
    });
    socket.on('error', (error) =>
      this.#pending.splice(0).forEach((waiter) => waiter.reject(error)),
    );
  }

  /** Connects to `port` on loopback; rejects when nothing listens there. */
  static open(port = 6379): Promise<RespClient> {
    return new Promise((resolve, reject) => {
      const socket = connect(port, '127.0.0.1', () => resolve(new RespClient(socket)));
      socket.once('error', reject);
    });
  }

  /** A client whose every command fails: what a Redis outage looks like to the limiter. */
  static down(): { eval: () => Promise<never> } {
    return { eval: () => Promise.reject(new Error('connect ECONNREFUSED 127.0.0.1:6379')) };
  }

  sendCommand(args: Array<string | number>): Promise<Reply> {
    const parts = args.map(String);
    const frame = `*${parts.length}\r\n${parts.map((p) => `$${Buffer.byteLength(p)}\r\n${p}\r\n`).join('')}`;
    return new Promise((resolve, reject) => {
      this.#pending.push({ resolve, reject });
      this.#socket.write(frame);
    });
  }

  eval(script: string, options: { keys: string[]; arguments: string[] }): Promise<Reply> {
    return this.sendCommand([
      'EVAL',
      script,
      options.keys.length,
      ...options.keys,
      ...options.arguments,
    ]);
  }

  /** Deletes every key under `prefix` (SCAN, then DEL). */
  async deletePrefix(prefix: string): Promise<void> {
    let cursor = '0';
    do {
      const [next, keys] = (await this.sendCommand([
        'SCAN',
        cursor,
        'MATCH',
        `${prefix}*`,
        'COUNT',
        1000,
      ])) as [string, string[]];
      if (keys.length > 0) await this.sendCommand(['DEL', ...keys]);
      cursor = next;
    } while (cursor !== '0');
  }

  close(): void {
    this.#socket.end();
  }
}

/** One RESP2 reply from `buffer` at `start`, or undefined when it is not complete yet. */
function parse(buffer: Buffer, start: number): { reply: Reply; end: number } | undefined {
  const lineEnd = buffer.indexOf('\r\n', start);
  if (lineEnd === -1) return undefined;
  const type = String.fromCharCode(buffer[start]);
  const line = buffer.toString('utf8', start + 1, lineEnd);
  const next = lineEnd + 2;
  switch (type) {
    case '+':
      return { reply: line, end: next };
    case '-':
      return { reply: new Error(line), end: next };
    case ':':
      return { reply: Number(line), end: next };
    case '$': {
      const length = Number(line);
      if (length === -1) return { reply: null, end: next };
      if (buffer.length < next + length + 2) return undefined;
      return { reply: buffer.toString('utf8', next, next + length), end: next + length + 2 };
    }
    case '*': {
      const count = Number(line);
      if (count === -1) return { reply: null, end: next };
      const items: Reply[] = [];
      let at = next;
      for (let i = 0; i < count; i++) {
        const item = parse(buffer, at);
        if (item === undefined) return undefined;
        items.push(item.reply);
        at = item.end;
      }
      return { reply: items, end: at };
    }
    default:
      throw new Error(`unexpected RESP type ${type}`);
  }
}
