import { availableParallelism, loadavg } from 'node:os';

/** Median of a non-empty list (mean of the middle two for an even count). */
export function median(values: readonly number[]): number {
  if (values.length === 0) throw new TypeError('median of nothing');
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** The `q` quantile (0..1) of a non-empty list, nearest rank. */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) throw new TypeError('quantile of nothing');
  const sorted = Float64Array.from(values).sort();
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}

/** `12 345` style: thousands separated by a space, no decimals. */
export const int = (n: number): string =>
  Math.round(n).toLocaleString('en-US').replaceAll(',', ' ');

/** A ratio with two decimals and whether it meets `target`. */
export const verdict = (ratio: number, target: number): string =>
  `${ratio.toFixed(2)} (target >= ${target}: ${ratio >= target ? 'met' : 'MISSED'})`;

/**
 * One line on how busy the machine was (1-minute load average against the core count): figures
 * taken while other work competes for the CPU are lower and noisier than the code deserves.
 */
export function machineLoad(): string {
  const cores = availableParallelism();
  const load = loadavg()[0];
  const note =
    load > cores
      ? ' (BUSY: other processes compete for the CPU; expect lower, noisier figures)'
      : '';
  return `load average ${load.toFixed(2)} on ${cores} cores${note}`;
}

/** Calls `fn` `iterations` times in a plain loop; returns calls per second. */
export function rateSync(iterations: number, fn: (i: number) => unknown): number {
  const started = performance.now();
  for (let i = 0; i < iterations; i++) fn(i);
  return iterations / ((performance.now() - started) / 1000);
}

/** Calls `fn` `iterations` times, one at a time, awaiting each; returns calls per second. */
export async function rateAsync(
  iterations: number,
  fn: (i: number) => Promise<unknown>,
): Promise<number> {
  const started = performance.now();
  for (let i = 0; i < iterations; i++) await fn(i);
  return iterations / ((performance.now() - started) / 1000);
}

/**
 * Compares two async operations over the same inputs, interleaved in chunks (A B, then B A, …) so
 * that a change in background load during the comparison weighs on both alike.
 * @returns calls per second of each.
 */
export async function interleaved(
  count: number,
  chunk: number,
  a: (i: number) => Promise<unknown>,
  b: (i: number) => Promise<unknown>,
): Promise<[number, number]> {
  const spent = [0, 0];
  const time = async (side: 0 | 1, from: number, to: number) => {
    const fn = side === 0 ? a : b;
    const started = performance.now();
    for (let i = from; i < to; i++) await fn(i);
    spent[side] += performance.now() - started;
  };
  for (let from = 0, k = 0; from < count; from += chunk, k++) {
    const to = Math.min(count, from + chunk);
    const first = (k % 2) as 0 | 1;
    await time(first, from, to);
    await time((1 - first) as 0 | 1, from, to);
  }
  return [count / (spent[0] / 1000), count / (spent[1] / 1000)];
}

/** Reads a positive number from the environment, or `fallback` when unset. */
export function envNumber(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0)
    throw new TypeError(`${name} must be a positive number, got ${JSON.stringify(raw)}`);
  return value;
}
