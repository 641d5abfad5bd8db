import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { PGlite } from '@electric-sql/pglite';
import {
  Kysely,
  PostgresDialect,
  type DatabaseConnection,
  type Dialect,
  type Driver,
  type TransactionSettings,
} from 'kysely';
import { PGliteDialect } from 'kysely-pglite-dialect';
import pg from 'pg';
import { AppError } from '../errors.ts';
import type { Database } from './schema.ts';
import { SessionGate } from './gate.ts';
import { takeLock, type LockInfo, type OwnerLock } from './owner-lock.ts';
import { serveOnSocket, SOCKET_FILE, type SocketServer } from './socket-server.ts';
import { DEFAULTS } from '../config/defaults.ts';

/**
 * One owner for the embedded database (ARCHITECTURE.md §2). PGlite is one PostgreSQL session inside one
 * process, so exactly one process opens `DATA_DIR/pglite`, guarded by `DATA_DIR/pglite.lock`:
 * - the server (`serve`) owns it for its lifetime and serves it to other processes on a Unix
 *   socket; a second server on the same folder is refused, naming the owner's pid;
 * - any other process (each CLI command) reaches it through that socket when a server runs, and
 *   otherwise owns it for the length of the command;
 * - a lock left by a process that died is taken over; a short-lived owner is waited for.
 * @module
 */

/** A second owner was refused (or the owner never answered): names the process holding the data. */
export class DatabaseInUseError extends AppError<'ERR_DATABASE_IN_USE'> {
  readonly pid: number;

  constructor(dataDir: string, holder: LockInfo, detail: string) {
    super(
      'ERR_DATABASE_IN_USE',
      `the embedded database in ${dataDir} is in use by process ${holder.pid} (${holder.command}); ${detail}`,
    );
    this.pid = holder.pid;
  }
}

/**
 * How long a process waits for a short-lived owner to finish, or for a starting server's socket
 * (a first start creates the database, which takes a while on a busy machine).
 */
const WAIT_MS = DEFAULTS.dbOwnerWaitMs;

/** What {@link openEmbedded} returns; {@link Db} in connect.ts is this plus `kind`. */
export interface EmbeddedHandle {
  readonly db: Kysely<Database>;
  /** The pid of the process that owns the database when it is another one (reached by socket). */
  readonly owner?: number;
  close(): Promise<void>;
}

export interface EmbeddedOptions {
  dataDir: string;
  /** `serve`: own it for good and serve it to others, or fail. `use`: whichever works. */
  role: 'serve' | 'use';
  /** Named in the lock file and in other processes' messages. Default `mcp-elevate`. */
  command?: string;
  /** Called once when the owner has kept this process waiting for a few seconds. */
  onWait?: (holder: LockInfo) => void;
}

interface Owner {
  pglite: PGlite;
  gate: SessionGate;
  info: LockInfo;
  refs: number;
  close(): Promise<void>;
}

// Opened in this process, by folder: a second handle in the same process shares the session.
const owners = new Map<string, Owner>();

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Opens the embedded database of `dataDir` as owner, or through its owner's socket. */
export async function openEmbedded(opts: EmbeddedOptions): Promise<EmbeddedHandle> {
  const dataDir = resolve(opts.dataDir);
  await mkdir(join(dataDir, 'pglite'), { recursive: true });
  const command = opts.command ?? 'mcp-elevate';
  const started = Date.now();
  let told = false;
  for (;;) {
    const local = owners.get(dataDir);
    if (local) {
      if (opts.role === 'serve')
        throw new DatabaseInUseError(dataDir, local.info, 'it already runs in this process');
      return share(local);
    }
    const socketDir = opts.role === 'serve' ? await socketDirFor(dataDir) : undefined;
    const taken = await takeLock(dataDir, {
      role: opts.role,
      command,
      ...(socketDir ? { socket: socketDir } : {}),
    });
    if ('lock' in taken) return share(await own(dataDir, taken.lock, socketDir));
    if (socketDir && socketDir !== dataDir) await rm(socketDir, { recursive: true, force: true });
    const { holder } = taken;
    if (holder.role === 'serve' && opts.role === 'serve') {
      throw new DatabaseInUseError(
        dataDir,
        holder,
        'stop it first, or use PostgreSQL (DATABASE_URL) to run several servers',
      );
    }
    if (holder.role === 'serve' && holder.socket) {
      const client = await viaSocket(holder).catch(() => undefined);
      if (client) return client;
    }
    if (Date.now() - started > WAIT_MS)
      throw new DatabaseInUseError(dataDir, holder, 'it did not answer or finish in time');
    if (!told && Date.now() - started > 3_000) {
      told = true;
      opts.onWait?.(holder);
    }
    await sleep(100);
  }
}

/** `DATA_DIR` itself, unless the socket's path would be too long for a Unix socket (~107 bytes). */
async function socketDirFor(dataDir: string): Promise<string> {
  if (join(dataDir, SOCKET_FILE).length <= 100) return dataDir;
  return mkdtemp(join(tmpdir(), 'mcp-elevate-'));
}

async function own(
  dataDir: string,
  lock: OwnerLock,
  socketDir: string | undefined,
): Promise<Owner> {
  const onExit = () => lock.releaseSync();
  process.once('exit', onExit);
  let pglite: PGlite | undefined;
  let socket: SocketServer | undefined;
  const shutdown = async () => {
    owners.delete(dataDir);
    await socket?.close().catch(() => {});
    if (socket && socket.dir !== dataDir) await rm(socket.dir, { recursive: true, force: true });
    await pglite?.close().catch(() => {});
    await lock.release();
    process.off('exit', onExit);
  };
  try {
    const { PGlite } = await import('@electric-sql/pglite');
    pglite = new PGlite(join(dataDir, 'pglite'));
    await pglite.waitReady;
    const gate = new SessionGate();
    if (socketDir) socket = await serveOnSocket(pglite, gate, socketDir);
    const owner: Owner = { pglite, gate, info: lock.info, refs: 0, close: shutdown };
    owners.set(dataDir, owner);
    return owner;
  } catch (err) {
    await shutdown();
    throw err;
  }
}

function share(owner: Owner): EmbeddedHandle {
  owner.refs++;
  const db = new Kysely<Database>({ dialect: gatedDialect(owner.pglite, owner.gate) });
  let closed = false;
  return {
    db,
    async close() {
      if (closed) return;
      closed = true;
      await db.destroy();
      if (--owner.refs === 0) await owner.close();
    },
  };
}

async function viaSocket(holder: LockInfo): Promise<EmbeddedHandle> {
  // One connection, like the owner's own single session: a transaction never waits on a
  // second connection of the same process (which the owner would serve only after it).
  const pool = new pg.Pool({
    host: holder.socket,
    port: 5432,
    user: 'postgres',
    database: 'postgres',
    max: 1,
    connectionTimeoutMillis: 5_000,
  });
  pool.on('error', () => {});
  pool.on('connect', (c) => c.on('error', () => {}));
  try {
    await pool.query('select 1');
  } catch (err) {
    await pool.end().catch(() => {});
    throw err;
  }
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  return { db, owner: holder.pid, close: () => db.destroy() };
}

/**
 * kysely-pglite-dialect with each connection taken in turn through `gate`, which socket clients
 * share. Destroying a Kysely does not close the PGlite: its owner does, after the last handle.
 */
export function gatedDialect(pglite: PGlite, gate: SessionGate): Dialect {
  const base = new PGliteDialect(pglite);
  return {
    createAdapter: () => base.createAdapter(),
    createQueryCompiler: () => base.createQueryCompiler(),
    createIntrospector: (db) => base.createIntrospector(db),
    createDriver: () => new GatedDriver(base.createDriver(), gate),
  };
}

class GatedDriver implements Driver {
  readonly #inner: Driver;
  readonly #gate: SessionGate;
  readonly #turns = new Map<DatabaseConnection, () => void>();

  constructor(inner: Driver, gate: SessionGate) {
    this.#inner = inner;
    this.#gate = gate;
  }

  init(): Promise<void> {
    return this.#inner.init();
  }

  async acquireConnection(): Promise<DatabaseConnection> {
    const release = await this.#gate.acquire();
    try {
      const conn = await this.#inner.acquireConnection();
      this.#turns.set(conn, release);
      return conn;
    } catch (err) {
      release();
      throw err;
    }
  }

  async releaseConnection(conn: DatabaseConnection): Promise<void> {
    try {
      await this.#inner.releaseConnection(conn);
    } finally {
      this.#turns.get(conn)?.();
      this.#turns.delete(conn);
    }
  }

  beginTransaction(conn: DatabaseConnection, settings: TransactionSettings): Promise<void> {
    return this.#inner.beginTransaction(conn, settings);
  }

  commitTransaction(conn: DatabaseConnection): Promise<void> {
    return this.#inner.commitTransaction(conn);
  }

  rollbackTransaction(conn: DatabaseConnection): Promise<void> {
    return this.#inner.rollbackTransaction(conn);
  }

  async destroy(): Promise<void> {}
}
