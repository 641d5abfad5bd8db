/**
 * A benchmark target in a child process (`child_process.fork`), and how the driver talks to it
 * over the IPC channel: the target reports `ready` with what the driver needs to know, then
 * answers samples (CPU, RSS, SQL statements), CPU profiling and `stop`. Keeping each server in
 * its own process means the load generator never competes with it for an event loop, and a
 * server's figures (CPU, memory) are its own.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { PerformanceObserver } from 'node:perf_hooks';
import { once } from 'node:events';
import { startCpuProfile } from '../lib/cpu-profile.ts';

/** Counters of a target since it started; the driver subtracts two samples. */
export interface Sample {
  /** CPU time of the target process (user + system), microseconds. */
  cpuMicros: number;
  /** Time spent in garbage collection (wall time of V8's pauses, from `gc` performance entries), microseconds. */
  gcMicros: number;
  /** Resident set size, bytes. */
  rss: number;
  /** Memory of ArrayBuffers and Buffers (outside the V8 heap), bytes. */
  arrayBuffers: number;
  /** Heap in use, bytes: after a full garbage collection when the sample asked for one (the live set), else as found. */
  heapUsed: number;
  /** SQL statements sent to PostgreSQL so far, by text, with the rows they returned or changed; empty without a database. */
  statements: Array<[sql: string, count: number, rows: number]>;
  /** Counters the target reports itself (e.g. audit events sent); empty when none. */
  extra: Record<string, number>;
}

type ChildMessage =
  | { type: 'ready'; info: Record<string, string> }
  | ({ type: 'sample' } & Sample)
  | { type: 'profiled' };

type DriverMessage =
  | { cmd: 'sample'; gc?: boolean }
  | { cmd: 'profile:start' }
  | { cmd: 'profile:stop'; file: string }
  | { cmd: 'stop' };

/** What a started target gives the child side of the protocol. */
export interface ChildTarget {
  /** Strings the driver needs (URLs, secrets of fixtures made for the run). */
  info: Record<string, string>;
  /** SQL statements run so far, with how often each ran and the rows they returned or changed. */
  statements?: () => Array<[string, number, number]>;
  /** Further counters for the driver (see {@link Sample.extra}). */
  extra?: () => Record<string, number>;
  close(): Promise<void>;
}

/** Child side: starts the target, reports `ready`, answers the driver until told to stop. */
export async function serveChild(start: () => Promise<ChildTarget>): Promise<void> {
  if (!process.send)
    throw new TypeError(
      'this benchmark target must be started by a bench/*.ts driver (fork with IPC)',
    );
  const send = (m: ChildMessage) => process.send!(m);
  let gcMicros = 0;
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) gcMicros += entry.duration * 1000;
  }).observe({ entryTypes: ['gc'] });
  const target = await start();
  let stopProfile: ((file: string) => Promise<void>) | undefined;
  process.on('message', async (message: DriverMessage) => {
    switch (message.cmd) {
      case 'sample': {
        // Only children started with `exposeGc` have it; the collection's own CPU is counted.
        if (message.gc) (globalThis as { gc?: () => void }).gc?.();
        const { user, system } = process.cpuUsage();
        const { rss, heapUsed, arrayBuffers } = process.memoryUsage();
        send({
          type: 'sample',
          cpuMicros: user + system,
          gcMicros,
          rss,
          arrayBuffers,
          heapUsed,
          statements: target.statements?.() ?? [],
          extra: target.extra?.() ?? {},
        });
        break;
      }
      case 'profile:start':
        stopProfile = await startCpuProfile();
        break;
      case 'profile:stop': {
        await stopProfile!(message.file);
        send({ type: 'profiled' });
        break;
      }
      case 'stop':
        void target.close().finally(() => process.disconnect());
        break;
    }
  });
  send({ type: 'ready', info: target.info });
}

/** A target process as the driver sees it. */
export interface RunningChild {
  label: string;
  pid: number;
  info: Record<string, string>;
  /** With `{ gc: true }` (child started with `exposeGc`), a full collection runs first. */
  sample(opts?: { gc?: boolean }): Promise<Sample>;
  profileStart(): void;
  /** Stops the profiler and writes the V8 `.cpuprofile` to `file`. */
  profileStop(file: string): Promise<void>;
  /** Asks the child to close; kills it when it has not exited 15 s later. */
  stop(): Promise<void>;
}

/** How long a target may take to start (migrations, fixtures) before the run gives up. */
const START_TIMEOUT_MS = 120_000;

/** Forks `script` (a URL), waits for `ready`. `exposeGc`: start it with `--expose-gc` (see {@link RunningChild.sample}). */
export async function startChild(
  label: string,
  script: URL,
  env: Record<string, string>,
  opts: { exposeGc?: boolean } = {},
): Promise<RunningChild> {
  const child: ChildProcess = fork(script, {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    execArgv: [...process.execArgv, ...(opts.exposeGc ? ['--expose-gc'] : [])],
  });
  const next = <T extends ChildMessage['type']>(type: T, timeoutMs = 30_000) =>
    new Promise<Extract<ChildMessage, { type: T }>>((resolve, reject) => {
      const done = () => {
        clearTimeout(timer);
        child.off('message', onMessage).off('exit', onExit);
      };
      const onMessage = (m: ChildMessage) => {
        if (m.type !== type) return;
        done();
        resolve(m as Extract<ChildMessage, { type: T }>);
      };
      const onExit = (code: number | null) => {
        done();
        reject(new Error(`${label}: exited (code ${code}) before sending "${type}"`));
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`${label}: no "${type}" within ${timeoutMs} ms`));
      }, timeoutMs);
      child.on('message', onMessage).once('exit', onExit);
    });

  try {
    const { info } = await next('ready', START_TIMEOUT_MS);
    return {
      label,
      pid: child.pid!,
      info,
      async sample(opts = {}) {
        const answer = next('sample');
        child.send({ cmd: 'sample', gc: opts.gc } satisfies DriverMessage);
        const { type: _type, ...sample } = await answer;
        return sample;
      },
      profileStart: () => child.send({ cmd: 'profile:start' } satisfies DriverMessage),
      async profileStop(file) {
        const done = next('profiled', 60_000);
        child.send({ cmd: 'profile:stop', file } satisfies DriverMessage);
        await done;
      },
      async stop() {
        if (child.exitCode !== null || child.signalCode !== null) return;
        const exited = once(child, 'exit');
        if (child.connected) child.send({ cmd: 'stop' } satisfies DriverMessage);
        // A target that does not wind down must not keep the run (or its scratch database) alive.
        const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
        await exited;
        clearTimeout(timer);
      },
    };
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  }
}

/** SQL statements run between two samples, with their count and rows, most frequent first. */
export function statementsBetween(before: Sample, after: Sample): Array<[string, number, number]> {
  const earlier = new Map(before.statements.map(([sql, n, rows]) => [sql, [n, rows] as const]));
  return after.statements
    .map(([sql, n, rows]): [string, number, number] => [
      sql,
      n - (earlier.get(sql)?.[0] ?? 0),
      rows - (earlier.get(sql)?.[1] ?? 0),
    ])
    .filter(([, n]) => n > 0)
    .sort((a, b) => b[1] - a[1]);
}
