/**
 * Load generators for operations that are more than one HTTP request (an elevation is a CIBA
 * request plus a poll), which autocannon cannot chain. Both are bounded in count and in time.
 */
import { quantile } from '../lib/stats.ts';

/** What a run did. */
export interface RunResult {
  /** Operations that completed without error. */
  ok: number;
  errors: number;
  /** Wall time of the run, seconds. */
  seconds: number;
  /** Latency of each successful operation, ms. */
  latenciesMs: number[];
  /** A few error messages, distinct, for the report. */
  errorSamples: string[];
}

const describe = (error: unknown) =>
  (error instanceof Error ? error.message : String(error)).slice(0, 200);

function noteError(result: RunResult, error: unknown): void {
  result.errors++;
  const text = describe(error);
  if (result.errorSamples.length < 5 && !result.errorSamples.includes(text))
    result.errorSamples.push(text);
}

/**
 * Closed loop: `concurrency` workers each start the next operation as soon as theirs ends, until
 * `count` operations were started or `seconds` passed, whichever comes first.
 */
export async function closedLoop(
  opts: { count: number; seconds: number; concurrency: number },
  op: (i: number) => Promise<void>,
): Promise<RunResult> {
  const result: RunResult = { ok: 0, errors: 0, seconds: 0, latenciesMs: [], errorSamples: [] };
  const started = performance.now();
  const deadline = started + opts.seconds * 1000;
  let next = 0;
  const worker = async () => {
    while (next < opts.count && performance.now() < deadline) {
      const i = next++;
      const t0 = performance.now();
      try {
        await op(i);
        result.latenciesMs.push(performance.now() - t0);
        result.ok++;
      } catch (error) {
        noteError(result, error);
      }
    }
  };
  await Promise.all(Array.from({ length: opts.concurrency }, worker));
  result.seconds = (performance.now() - started) / 1000;
  return result;
}

/**
 * Open loop at a fixed rate: operation `i` starts at `i / rate` seconds whatever the earlier ones
 * are doing (so a slow server shows up as latency, not as a lower offered load), until `count`
 * were started or `seconds` passed. At most `maxInFlight` run at once: an operation due while the
 * limit is reached is not started and counts as an error ("backlog"), which keeps memory bounded
 * when the server falls behind. Resolves once every started operation has ended.
 */
export async function openLoop(
  opts: { rate: number; seconds: number; count?: number; maxInFlight?: number },
  op: (i: number) => Promise<void>,
): Promise<RunResult> {
  const result: RunResult = { ok: 0, errors: 0, seconds: 0, latenciesMs: [], errorSamples: [] };
  const count = opts.count ?? Math.floor(opts.rate * opts.seconds);
  const maxInFlight = opts.maxInFlight ?? 1_000;
  const running = new Set<Promise<void>>();
  const started = performance.now();
  const deadline = started + opts.seconds * 1000;
  let launched = 0;
  const launch = (i: number) => {
    if (running.size >= maxInFlight) {
      noteError(result, new Error(`backlog: ${maxInFlight} operations in flight`));
      return;
    }
    const t0 = performance.now();
    const p = op(i)
      .then(
        () => {
          result.latenciesMs.push(performance.now() - t0);
          result.ok++;
        },
        (error) => noteError(result, error),
      )
      .finally(() => running.delete(p));
    running.add(p);
  };
  while (launched < count && performance.now() < deadline) {
    const due = Math.min(count, Math.floor(((performance.now() - started) / 1000) * opts.rate) + 1);
    while (launched < due) launch(launched++);
    // Sleep until the next one is due (a timer tick at least: timers are not more precise).
    const nextAt = started + (launched / opts.rate) * 1000;
    await new Promise((r) => setTimeout(r, Math.max(1, nextAt - performance.now())));
  }
  await Promise.all(running);
  result.seconds = (performance.now() - started) / 1000;
  return result;
}

/** `p50 / p99 / max` of a list of ms, or `-` when empty. */
export function latencySummary(ms: readonly number[]): { p50: string; p99: string; max: string } {
  if (ms.length === 0) return { p50: '-', p99: '-', max: '-' };
  return {
    p50: quantile(ms, 0.5).toFixed(1),
    p99: quantile(ms, 0.99).toFixed(1),
    max: ms.reduce((m, v) => (v > m ? v : m), 0).toFixed(1),
  };
}

/** Adds `b` into `a` (segments of one measurement). */
export function addInto(a: RunResult, b: RunResult): RunResult {
  a.ok += b.ok;
  a.errors += b.errors;
  a.seconds += b.seconds;
  for (const v of b.latenciesMs) a.latenciesMs.push(v);
  for (const s of b.errorSamples)
    if (a.errorSamples.length < 5 && !a.errorSamples.includes(s)) a.errorSamples.push(s);
  return a;
}

export const emptyResult = (): RunResult => ({
  ok: 0,
  errors: 0,
  seconds: 0,
  latenciesMs: [],
  errorSamples: [],
});
