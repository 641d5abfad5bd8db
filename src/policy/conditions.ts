import type { Conditions, TimeWindow } from './schema.ts';

/** Outcome of {@link conditionsHold}: a deny carries a reason that names the failed condition. */
export type ConditionResult = { ok: true } | { ok: false; reason: string };

const OK: ConditionResult = Object.freeze({ ok: true });
const fail = (reason: string): ConditionResult => ({ ok: false, reason });

/** Tool call arguments as received; anything that is not a plain object counts as "no arguments". */
export type ToolArguments = Readonly<Record<string, unknown>> | undefined;

/**
 * Evaluates a permission's conditions against a tool call. Rules enforced:
 * - `environment` is sugar for `params.environment`;
 * - `params`: each named argument must be present and strictly equal (no coercion: `1` is not
 *   `"1"`) to one of the allowed values;
 * - `maxCost`: the `cost` argument must be a finite number `<= maxCost`;
 * - `timeWindow`: the local wall-clock minute of `now` in the window's time zone lies in
 *   `[start, end)`, or, when `start > end`, the window crosses midnight;
 * - anything absent, mistyped or unevaluable fails closed.
 *
 * @param conditions The conditions; `undefined` means unconditional.
 * @param args The call's arguments.
 * @param now The clock, injected so decisions are reproducible.
 * @throws {TypeError} When `now` is not a valid `Date` (a caller bug, not a deny).
 */
export function conditionsHold(
  conditions: Conditions | undefined,
  args: ToolArguments,
  now: Date,
): ConditionResult {
  if (!(now instanceof Date) || Number.isNaN(now.getTime()))
    throw new TypeError('now must be a valid Date');
  if (conditions === undefined) return OK;
  const bag: Readonly<Record<string, unknown>> =
    args !== null && typeof args === 'object' && !Array.isArray(args) ? args : {};

  // Checked as a list, not merged, so an unvalidated policy holding both forms gets both enforced.
  const params: Array<[string, readonly unknown[]]> = Object.entries(conditions.params ?? {});
  if (conditions.environment) params.push(['environment', conditions.environment]);
  for (const [name, allowed] of params) {
    if (!Object.hasOwn(bag, name))
      return fail(`argument "${name}" is required by the policy but absent`);
    const value = bag[name];
    if (!allowed.some((candidate) => candidate === value)) {
      return fail(
        `argument "${name}" must be one of ${allowed.map((v) => JSON.stringify(v)).join(', ')}`,
      );
    }
  }

  if (conditions.maxCost !== undefined) {
    if (!Object.hasOwn(bag, 'cost'))
      return fail('argument "cost" is required by the policy but absent');
    const cost = bag.cost;
    if (typeof cost !== 'number' || !Number.isFinite(cost))
      return fail('argument "cost" must be a finite number');
    if (cost > conditions.maxCost)
      return fail(`argument "cost" exceeds the maximum of ${conditions.maxCost}`);
  }

  if (conditions.timeWindow) {
    const result = inTimeWindow(conditions.timeWindow, now);
    if (!result.ok) return result;
  }
  return OK;
}

const toMinutes = (hhmm: string): number =>
  Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5));

// Formatters are costly to build. Keys are time zones that Intl accepted, a finite set, and the
// cap keeps even that bounded; a formatter holds no per-call state, so sharing one is safe.
const formatters = new Map<string, Intl.DateTimeFormat>();
function formatterFor(timeZone: string): Intl.DateTimeFormat {
  let formatter = formatters.get(timeZone);
  if (!formatter) {
    formatter = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      hour: '2-digit',
      minute: '2-digit',
    });
    if (formatters.size >= 256) formatters.clear();
    formatters.set(timeZone, formatter);
  }
  return formatter;
}

/**
 * The wall-clock minute of the day (0-1439) of `now` in `timeZone`.
 * @throws {RangeError} For a time zone Intl does not know.
 */
export function localMinuteOfDay(now: Date, timeZone: string): number {
  let hour = 0;
  let minute = 0;
  for (const part of formatterFor(timeZone).formatToParts(now)) {
    if (part.type === 'hour') hour = Number(part.value);
    else if (part.type === 'minute') minute = Number(part.value);
  }
  // `hourCycle: 'h23'` already yields 0-23; the modulo guards against engines that print "24".
  return (hour % 24) * 60 + minute;
}

/** Whether `now` falls in the window: start inclusive, end exclusive, midnight crossing allowed. */
export function inTimeWindow(window: TimeWindow, now: Date): ConditionResult {
  let minute: number;
  try {
    minute = localMinuteOfDay(now, window.timezone);
  } catch {
    return fail(`time zone "${window.timezone}" is not known`);
  }
  const start = toMinutes(window.start);
  const end = toMinutes(window.end);
  const inside =
    start < end
      ? minute >= start && minute < end
      : start > end && (minute >= start || minute < end);
  if (inside) return OK;
  const local = `${String(Math.floor(minute / 60)).padStart(2, '0')}:${String(minute % 60).padStart(2, '0')}`;
  return fail(
    `outside the time window ${window.start}-${window.end} ${window.timezone} (now ${local})`,
  );
}
