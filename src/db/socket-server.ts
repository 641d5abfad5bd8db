import { chmod, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import type { PGlite } from '@electric-sql/pglite';
import { PGLiteSocketHandler } from '@electric-sql/pglite-socket';
import type { SessionGate } from './gate.ts';
import { DEFAULTS } from '../config/defaults.ts';

/** The socket file's name inside its directory, where `pg` looks for it (`host` = the directory). */
export const SOCKET_FILE = '.s.PGSQL.5432';

/**
 * How long a client may keep the database to itself between two messages (in a transaction, or
 * in the middle of a statement). Past it the connection is closed and its transaction rolled
 * back, so a stalled or suspended CLI cannot stop the server's own queries for good.
 */
export const HOLD_TIMEOUT_MS = DEFAULTS.dbSocketHoldTimeoutMs;

const SYNC = Uint8Array.of(0x53, 0, 0, 0, 4);
const ROLLBACK = (() => {
  const text = Buffer.from('ROLLBACK\0');
  const msg = Buffer.alloc(5 + text.length);
  msg.write('Q', 0);
  msg.writeInt32BE(4 + text.length, 1);
  text.copy(msg, 5);
  return new Uint8Array(msg);
})();

interface Session {
  handler: PGLiteSocketHandler;
  /** Messages of one connection run in the order they came, one after the other. */
  tail: Promise<unknown>;
  /** Set while this connection has the database (from its first message to the end of its turn). */
  release?: () => void;
  closed: boolean;
  timer?: NodeJS.Timeout;
}

/**
 * Schedules the messages of every socket connection on the one PGlite session, in turns shared
 * with the owner's own queries (through `gate`). pglite-socket's own queue runs each protocol
 * message under PGlite's query lock only: the owner's in-process queries would then run inside a
 * client's open transaction, or between its Parse and Bind. Here a connection keeps the gate from
 * its first message until the session is idle again — after a Sync or a simple Query that leaves
 * no transaction open — so transactions and extended-protocol exchanges never interleave.
 * It implements the three methods `PGLiteSocketHandler` calls on its `queryQueue`.
 */
class GatedQueue {
  readonly #pglite: PGlite;
  readonly #gate: SessionGate;
  readonly #sessions = new Map<number, Session>();
  readonly #holdTimeoutMs: number;

  constructor(pglite: PGlite, gate: SessionGate, holdTimeoutMs: number) {
    this.#pglite = pglite;
    this.#gate = gate;
    this.#holdTimeoutMs = holdTimeoutMs;
  }

  track(handler: PGLiteSocketHandler): void {
    this.#sessions.set(handler.handlerId, { handler, tail: Promise.resolve(), closed: false });
  }

  enqueue(
    handlerId: number,
    message: Uint8Array,
    onData: (data: Uint8Array) => void,
  ): Promise<number> {
    const s = this.#sessions.get(handlerId);
    if (!s || s.closed) return Promise.reject(new Error('connection closed'));
    const run = s.tail.then(() => this.#run(s, message, onData));
    s.tail = run.catch(() => {});
    return run;
  }

  clearQueueForHandler(handlerId: number): void {
    const s = this.#sessions.get(handlerId);
    if (!s) return;
    s.closed = true;
    clearTimeout(s.timer);
  }

  /** Called when a connection goes: ends its turn, rolling back whatever it left open. */
  async clearTransactionIfNeeded(handlerId: number): Promise<void> {
    const s = this.#sessions.get(handlerId);
    if (!s) return;
    this.#sessions.delete(handlerId);
    s.closed = true;
    await s.tail;
    if (!s.release) return;
    try {
      await this.#raw(SYNC);
      if (this.#pglite.isInTransaction()) await this.#raw(ROLLBACK);
    } catch {
      // The database is closing: nothing is left to roll back. The handler does not await this.
    } finally {
      s.release();
      s.release = undefined;
    }
  }

  async #run(s: Session, message: Uint8Array, onData: (data: Uint8Array) => void): Promise<number> {
    clearTimeout(s.timer);
    if (s.closed) throw new Error('connection closed');
    s.release ??= await this.#gate.acquire();
    if (s.closed) throw new Error('connection closed'); // the turn ends in clearTransactionIfNeeded
    let bytes = 0;
    await this.#raw(message, (data) => {
      bytes += data.length;
      onData(data);
    });
    if (endsExchange(message) && !this.#pglite.isInTransaction()) {
      s.release();
      s.release = undefined;
    } else {
      s.timer = setTimeout(() => void s.handler.detach(true), this.#holdTimeoutMs);
    }
    return bytes;
  }

  #raw(message: Uint8Array, onRawData: (data: Uint8Array) => void = () => {}): Promise<void> {
    return this.#pglite.runExclusive(() =>
      this.#pglite.execProtocolRawStream(message, { onRawData }),
    );
  }
}

/** Sync, simple Query, Terminate and the startup packet (length first: its first byte is 0). */
function endsExchange(message: Uint8Array): boolean {
  return message[0] === 0x53 || message[0] === 0x51 || message[0] === 0x58 || message[0] === 0;
}

/** A PGlite served to other processes on a Unix socket. */
export interface SocketServer {
  /** The directory holding {@link SOCKET_FILE}. */
  readonly dir: string;
  /** Stops accepting, closes every connection (rolling back what they left open), removes the file. */
  close(): Promise<void>;
}

/**
 * Serves `pglite` on the Unix socket `dir/.s.PGSQL.5432` (mode 0600: only this operating-system
 * user may connect; there is no password). Clients connect with `pg` (`host` = `dir`). A stale
 * socket file is replaced: the caller holds the data folder's lock. `holdTimeoutMs` defaults to
 * {@link HOLD_TIMEOUT_MS}.
 */
export async function serveOnSocket(
  pglite: PGlite,
  gate: SessionGate,
  dir: string,
  opts: { holdTimeoutMs?: number } = {},
): Promise<SocketServer> {
  const path = join(dir, SOCKET_FILE);
  await rm(path, { force: true });
  const queue = new GatedQueue(pglite, gate, opts.holdTimeoutMs ?? HOLD_TIMEOUT_MS);
  const handlers = new Set<PGLiteSocketHandler>();
  const server: Server = createServer((socket) => {
    // The handler frames the protocol messages; the queue (not the library's) schedules them.
    const handler = new PGLiteSocketHandler({ queryQueue: queue as never, closeOnDetach: true });
    queue.track(handler);
    handlers.add(handler);
    handler.addEventListener('close', () => handlers.delete(handler));
    handler.addEventListener('error', () => handlers.delete(handler));
    handler.attach(socket).catch(() => socket.destroy());
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => {
      server.off('error', reject);
      resolve();
    });
  });
  await chmod(path, 0o600);
  return {
    dir,
    async close() {
      const closed = new Promise((resolve) => server.close(resolve));
      await Promise.all([...handlers].map((h) => h.detach(true)));
      await closed;
      await rm(path, { force: true });
    },
  };
}
