import { randomBytes } from 'node:crypto';
import { link, open, readFile, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { readFileSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULTS } from '../config/defaults.ts';

/**
 * What the lock file `DATA_DIR/pglite.lock` says about the process that owns the embedded
 * database. `serve` owners (the server, the demo) stay and serve the database on `socket`; `use`
 * owners (a CLI command run while no server runs) open it for a moment and serve nobody.
 */
export interface LockInfo {
  pid: number;
  role: 'serve' | 'use';
  /** Directory of the owner's PostgreSQL socket (`.s.PGSQL.5432`), for `serve` owners. */
  socket?: string;
  /** What the owner runs, for messages: `mcp-elevate serve`, `mcp-elevate users add`, … */
  command: string;
}

/** A lock this process holds. */
export interface OwnerLock {
  readonly info: LockInfo;
  /** Removes the lock file if it is still this one. */
  release(): Promise<void>;
  /** The same, synchronously, for the process's `exit` event. */
  releaseSync(): void;
}

/** A taken-over lock's takeover marker older than this belongs to a process that died in it. */
const TAKEOVER_STALE_MS = DEFAULTS.dbLockTakeoverStaleMs;

export const lockPath = (dataDir: string) => join(dataDir, 'pglite.lock');

/** Whether a process with this id exists (EPERM: it does, under another user). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function parse(raw: string): LockInfo | undefined {
  try {
    const v = JSON.parse(raw) as LockInfo;
    return Number.isInteger(v.pid) && v.pid > 0 && (v.role === 'serve' || v.role === 'use')
      ? v
      : undefined;
  } catch {
    return undefined;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Takes the lock of `dataDir`, or names the live process that holds it. The file appears whole
 * (written aside, then hard-linked into place, which fails if it exists), so a reader never sees
 * half of it. A lock whose process is gone (killed, crashed) is stale and taken over: one
 * process at a time, under a takeover marker, and only if the file is still the stale one.
 */
export async function takeLock(
  dataDir: string,
  want: Omit<LockInfo, 'pid'>,
): Promise<{ lock: OwnerLock } | { holder: LockInfo }> {
  const file = lockPath(dataDir);
  const info: LockInfo = { pid: process.pid, ...want };
  const content = `${JSON.stringify(info)}\n`;
  for (;;) {
    const aside = `${file}.${process.pid}.${randomBytes(4).toString('hex')}`;
    await writeFile(aside, content, { mode: 0o600 });
    try {
      await link(aside, file);
      return { lock: held(file, info, content) };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    } finally {
      await rm(aside, { force: true });
    }
    const raw = await readFile(file, 'utf8').catch(() => undefined);
    if (raw === undefined) continue; // released a moment ago: try again
    const holder = parse(raw);
    if (holder && isAlive(holder.pid)) return { holder };
    await takeOver(file, raw);
  }
}

async function takeOver(file: string, staleContent: string): Promise<void> {
  const marker = `${file}.takeover`;
  let handle;
  try {
    handle = await open(marker, 'wx', 0o600);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    const age = await stat(marker).then(
      (s) => Date.now() - s.mtimeMs,
      () => 0,
    );
    if (age > TAKEOVER_STALE_MS) await rm(marker, { force: true });
    else await sleep(50);
    return;
  }
  try {
    // Another process may have taken over and written a live lock since we read the stale one.
    if ((await readFile(file, 'utf8').catch(() => undefined)) === staleContent) await unlink(file);
  } finally {
    await handle.close();
    await rm(marker, { force: true });
  }
}

function held(file: string, info: LockInfo, content: string): OwnerLock {
  const mine = (raw: string | undefined) => raw === content;
  return {
    info,
    async release() {
      if (mine(await readFile(file, 'utf8').catch(() => undefined)))
        await rm(file, { force: true });
    },
    releaseSync() {
      try {
        if (mine(readFileSync(file, 'utf8'))) unlinkSync(file);
      } catch {
        // already gone
      }
    },
  };
}
