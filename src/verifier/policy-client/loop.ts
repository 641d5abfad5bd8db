import { backoffDelay, jittered, type Jitter } from '../resilience/backoff.ts';

/** A background task run again and again; see {@link startLoop}. */
export interface Loop {
  /**
   * Runs the task now (or joins the run under way) and resolves when it settles; rejects with the
   * task's error. The next scheduled run is counted from this one.
   */
  runNow(): Promise<void>;
  /** Stops scheduling; a run under way finishes on its own. */
  stop(): void;
}

/**
 * Runs `task` at once and then after `delay(failures)` ms each time it settles, where `failures`
 * counts consecutive failed runs. Runs never overlap. Timers are unref'd: a background refresh
 * never keeps the process alive.
 */
export function startLoop(task: () => Promise<void>, delay: (failures: number) => number): Loop {
  let timer: ReturnType<typeof setTimeout> | undefined;
  let running: Promise<void> | undefined;
  let failures = 0;
  let stopped = false;

  const schedule = (): void => {
    clearTimeout(timer);
    if (stopped) return;
    timer = setTimeout(() => void run().catch(() => undefined), delay(failures));
    timer.unref();
  };

  const run = (): Promise<void> => {
    running ??= task()
      .then(
        () => {
          failures = 0;
        },
        (error: unknown) => {
          failures += 1;
          throw error;
        },
      )
      .finally(() => {
        running = undefined;
        schedule();
      });
    return running;
  };

  void run().catch(() => undefined);
  return {
    runNow: run,
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
  };
}

/** ±10 %: keeps many verifiers started together from polling the server in lockstep. */
const SPREAD: Jitter = [0.9, 1.1];

/**
 * Delay after `failures` consecutive failures: `intervalMs` when healthy; after a failure, a
 * doubling backoff from 1 s capped at `intervalMs`; both with ±10 % jitter (the cap holds).
 */
export function refreshDelay(intervalMs: number, failures: number): number {
  return failures === 0
    ? jittered(intervalMs, SPREAD)
    : backoffDelay(failures, { baseMs: 1000, maxMs: intervalMs, jitter: SPREAD });
}
