/**
 * How the console writes times, durations and states: `<time datetime>` with UTC text, "12
 * minutes left", and one badge class per state. Pure functions of their input and the clock.
 */

/** A time for a `<time>` element: the machine value and what the reader sees (UTC). */
export interface TimeView {
  iso: string;
  text: string;
}

/** `value` (ISO string or Date) as a {@link TimeView}, or null. */
export function when(value: string | Date | null | undefined): TimeView | null {
  if (value === null || value === undefined) return null;
  const d = value instanceof Date ? value : new Date(value);
  if (Number.isNaN(d.getTime())) return null;
  const iso = d.toISOString();
  return { iso, text: `${iso.slice(0, 10)} ${iso.slice(11, 19)} UTC` };
}

/** "12 minutes left", "1 hour 5 minutes left", "less than a minute left", or "ended". */
export function timeLeft(until: string | Date | null | undefined, now: Date): string {
  if (!until) return '';
  const ms = new Date(until).getTime() - now.getTime();
  if (!(ms > 0)) return 'ended';
  const minutes = Math.floor(ms / 60_000);
  if (minutes < 1) return 'less than a minute left';
  const h = Math.floor(minutes / 60);
  const m = minutes % 60;
  const part = (n: number, unit: string) => `${n} ${unit}${n === 1 ? '' : 's'}`;
  return `${[h ? part(h, 'hour') : '', m ? part(m, 'minute') : ''].filter(Boolean).join(' ')} left`;
}

/** The badge colour of a state: live/approved/pending/… → a class of the console layout. */
export function badge(status: string): string {
  switch (status) {
    case 'live':
    case 'approved':
    case 'success':
    case 'enabled':
    case 'ok':
      return 'good';
    case 'pending':
      return 'wait';
    case 'revoked':
    case 'denied':
    case 'failure':
    case 'disabled':
    case 'broken':
      return 'bad';
    default:
      return 'off';
  }
}

/** The fixed messages shown after a change (the redirect names one by key, never by text). */
export const NOTICES = {
  saved: 'Saved.',
  created: 'Created.',
  deleted: 'Deleted.',
  revoked: 'The elevation is revoked; verifiers learn of it within seconds.',
  disabled: 'The user is disabled and signed out everywhere.',
  enabled: 'The user is enabled.',
} as const;

/** A key of {@link NOTICES}. */
export type Notice = keyof typeof NOTICES;
