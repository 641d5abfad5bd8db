import { describe, expect, it } from 'vitest';
import { backoffDelay, jittered } from '../../../src/verifier/resilience/backoff.ts';

// The mail outbox's schedule: 1 s doubling to 5 min, ±25 %.
const mail = { baseMs: 1_000, maxMs: 300_000, jitter: [0.75, 1.25] as const };
const mid = () => 0.5;

describe('retry backoff', () => {
  it('starts at the base delay, doubles per failure and stops growing at the cap', () => {
    const delays = [1, 2, 3, 4].map((n) => backoffDelay(n, { ...mail, random: mid }));
    expect(delays).toEqual([1_000, 2_000, 4_000, 8_000]);
    expect(backoffDelay(20, { ...mail, random: mid })).toBe(300_000);
  });

  it('never passes the cap, jitter included, however many failures were counted', () => {
    expect(backoffDelay(10_000, { ...mail, random: () => 0.999 })).toBe(300_000);
    expect(backoffDelay(Number.MAX_SAFE_INTEGER, { ...mail, random: () => 0.999 })).toBe(300_000);
  });

  it('spreads delays over the jitter range so that clients failing together do not return together', () => {
    expect(backoffDelay(1, { ...mail, random: () => 0 })).toBe(750);
    expect(backoffDelay(1, { ...mail, random: () => 0.999_999 })).toBe(1_250);
    // The audit client's range only shortens: 50–100 % of the doubled delay.
    const audit = { baseMs: 1_000, maxMs: 30_000, jitter: [0.5, 1] as const };
    expect(backoffDelay(2, { ...audit, random: () => 0 })).toBe(1_000);
    expect(backoffDelay(2, { ...audit, random: () => 0.999_999 })).toBe(2_000);
  });

  it('treats a count below one as the first failure', () => {
    expect(backoffDelay(0, { ...mail, random: mid })).toBe(1_000);
  });

  it('jitters a fixed interval within its range', () => {
    expect(jittered(10_000, [0.9, 1], () => 0)).toBe(9_000);
    expect(jittered(10_000, [0.9, 1], () => 0.999_999)).toBe(10_000);
    for (let i = 0; i < 100; i++) {
      const ms = jittered(60_000, [0.9, 1.1]);
      expect(ms).toBeGreaterThanOrEqual(54_000);
      expect(ms).toBeLessThanOrEqual(66_000);
    }
  });
});
