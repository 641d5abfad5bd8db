import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ConditionsSchema, conditionsHold, localMinuteOfDay } from '../../src/policy/index.ts';
import type { Conditions } from '../../src/policy/index.ts';

const NOW = new Date('2025-01-15T12:00:00Z');
const holds = (conditions: Conditions, args?: Record<string, unknown>, now = NOW) =>
  conditionsHold(conditions, args, now).ok;
const at = (iso: string) => new Date(iso);
const window = (start: string, end: string, timezone: string): Conditions => ({
  timeWindow: { start, end, timezone },
});

describe('argument conditions', () => {
  it('treat environment as sugar for params.environment', () => {
    const sugar = { environment: ['staging'] };
    const params = { params: { environment: ['staging'] } };
    for (const c of [sugar, params]) {
      expect(holds(c, { environment: 'staging' })).toBe(true);
      expect(holds(c, { environment: 'production' })).toBe(false);
    }
  });

  it('fail closed when a named argument is absent, and say which', () => {
    const result = conditionsHold({ environment: ['staging'] }, { env: 'staging' }, NOW);
    expect(result).toEqual({
      ok: false,
      reason: 'argument "environment" is required by the policy but absent',
    });
    expect(holds({ environment: ['staging'] }, undefined)).toBe(false);
    expect(
      holds({ params: { region: ['eu'] } }, ['eu'] as unknown as Record<string, unknown>),
    ).toBe(false);
  });

  it('compare values strictly, without coercion', () => {
    const c: Conditions = { params: { replicas: [1, 2], force: [false], region: ['eu'] } };
    expect(holds(c, { replicas: 2, force: false, region: 'eu' })).toBe(true);
    expect(holds(c, { replicas: '2', force: false, region: 'eu' })).toBe(false);
    expect(holds(c, { replicas: 1, force: 0, region: 'eu' })).toBe(false);
    expect(holds(c, { replicas: 1, force: false, region: ['eu'] })).toBe(false);
    expect(holds(c, { replicas: 1, force: false, region: 'EU' })).toBe(false);
  });

  it('do not let an inherited property stand in for an absent argument', () => {
    const args = Object.create({ environment: 'staging' }) as Record<string, unknown>;
    expect(holds({ environment: ['staging'] }, args)).toBe(false);
  });

  it('enforce both environment and params.environment when an unvalidated policy has both', () => {
    const c = { environment: ['staging'], params: { environment: ['production'] } };
    expect(holds(c, { environment: 'staging' })).toBe(false);
    expect(ConditionsSchema.safeParse(c).success).toBe(false);
  });

  it('hold unconditionally when there are no conditions', () => {
    expect(conditionsHold(undefined, undefined, NOW)).toEqual({ ok: true });
    expect(holds({}, {})).toBe(true);
  });
});

describe('maxCost', () => {
  it.each([
    [{ cost: 50 }, true],
    [{ cost: 50.0001 }, false],
    [{ cost: 0 }, true],
    [{ cost: -1 }, true],
    [{}, false],
    [{ cost: '10' }, false],
    [{ cost: Number.NaN }, false],
    [{ cost: Number.POSITIVE_INFINITY }, false],
    [{ cost: null }, false],
  ])('with maxCost 50, arguments %j → %s', (args, expected) => {
    expect(holds({ maxCost: 50 }, args)).toBe(expected);
  });
});

describe('time windows', () => {
  it('include the start minute and exclude the end minute (Europe/Berlin, winter UTC+1)', () => {
    const c = window('09:00', '17:00', 'Europe/Berlin');
    expect(holds(c, {}, at('2025-01-15T07:59:59Z'))).toBe(false);
    expect(holds(c, {}, at('2025-01-15T08:00:00Z'))).toBe(true);
    expect(holds(c, {}, at('2025-01-15T15:59:59Z'))).toBe(true);
    expect(holds(c, {}, at('2025-01-15T16:00:00Z'))).toBe(false);
  });

  it('cross midnight when start is after end (Europe/Berlin, summer UTC+2)', () => {
    const c = window('22:00', '06:00', 'Europe/Berlin');
    expect(holds(c, {}, at('2025-07-01T19:59:00Z'))).toBe(false); // 21:59
    expect(holds(c, {}, at('2025-07-01T20:00:00Z'))).toBe(true); // 22:00
    expect(holds(c, {}, at('2025-07-01T22:00:00Z'))).toBe(true); // 00:00
    expect(holds(c, {}, at('2025-07-02T03:59:00Z'))).toBe(true); // 05:59
    expect(holds(c, {}, at('2025-07-02T04:00:00Z'))).toBe(false); // 06:00
    expect(holds(c, {}, at('2025-07-02T10:00:00Z'))).toBe(false); // 12:00
  });

  it('follow the wall clock across the DST jump (America/New_York, 2025-03-09)', () => {
    // 02:00 EST became 03:00 EDT at 07:00Z.
    const c = window('01:30', '03:30', 'America/New_York');
    expect(holds(c, {}, at('2025-03-09T06:29:00Z'))).toBe(false); // 01:29 EST
    expect(holds(c, {}, at('2025-03-09T06:59:00Z'))).toBe(true); // 01:59 EST
    expect(holds(c, {}, at('2025-03-09T07:00:00Z'))).toBe(true); // 03:00 EDT
    expect(holds(c, {}, at('2025-03-09T07:29:00Z'))).toBe(true); // 03:29 EDT
    expect(holds(c, {}, at('2025-03-09T07:30:00Z'))).toBe(false); // 03:30 EDT
  });

  it('use the local offset on either side of DST (America/New_York)', () => {
    const c = window('09:00', '17:00', 'America/New_York');
    expect(holds(c, {}, at('2025-01-15T14:00:00Z'))).toBe(true); // 09:00 EST
    expect(holds(c, {}, at('2025-01-15T13:59:00Z'))).toBe(false);
    expect(holds(c, {}, at('2025-07-15T13:00:00Z'))).toBe(true); // 09:00 EDT
    expect(holds(c, {}, at('2025-07-15T12:59:00Z'))).toBe(false);
  });

  it('report midnight as minute 0, not 24:00', () => {
    expect(localMinuteOfDay(at('2025-01-15T23:00:00Z'), 'Europe/Berlin')).toBe(0);
    expect(holds(window('00:00', '00:01', 'Europe/Berlin'), {}, at('2025-01-15T23:00:30Z'))).toBe(
      true,
    );
  });

  it('agree with modular arithmetic for any window and minute (Asia/Kolkata, fixed UTC+05:30)', () => {
    const hhmm = (m: number) =>
      `${String(Math.floor(m / 60)).padStart(2, '0')}:${String(m % 60).padStart(2, '0')}`;
    const minute = fc.integer({ min: 0, max: 1439 });
    fc.assert(
      fc.property(
        minute,
        minute,
        minute,
        fc.integer({ min: 0, max: 59 }),
        (start, end, local, second) => {
          fc.pre(start !== end);
          const utcMinute = (local - 330 + 1440) % 1440;
          const now = new Date(Date.UTC(2025, 5, 1, 0, utcMinute, second));
          const expected = (local - start + 1440) % 1440 < (end - start + 1440) % 1440;
          expect(holds(window(hhmm(start), hhmm(end), 'Asia/Kolkata'), {}, now)).toBe(expected);
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('fail closed on a time zone Intl does not know', () => {
    const result = conditionsHold(window('00:00', '23:59', 'Mars/Olympus'), {}, NOW);
    expect(result).toEqual({ ok: false, reason: 'time zone "Mars/Olympus" is not known' });
  });

  it('explain a miss with the local time', () => {
    const result = conditionsHold(
      window('09:00', '17:00', 'Europe/Berlin'),
      {},
      at('2025-01-15T17:05:00Z'),
    );
    expect(result).toEqual({
      ok: false,
      reason: 'outside the time window 09:00-17:00 Europe/Berlin (now 18:05)',
    });
  });
});

describe('the clock', () => {
  it('must be a valid Date, otherwise it is a caller bug', () => {
    expect(() => conditionsHold(undefined, {}, new Date(Number.NaN))).toThrow(TypeError);
    expect(() => conditionsHold(undefined, {}, '2025-01-01' as unknown as Date)).toThrow(TypeError);
  });
});
