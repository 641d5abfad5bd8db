import { AppError } from '../errors.ts';
import { DEFAULTS } from '../config/defaults.ts';

/** A page of a listing: `nextCursor` is null on the last page. */
export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

/** Default and largest page size of admin listings. */
export const PAGE_SIZE = Object.freeze({
  default: DEFAULTS.adminPageSize,
  max: DEFAULTS.adminPageSizeMax,
});

/**
 * Cursors are opaque to clients (base64url JSON of the last item's sort key), so the sort key can
 * change without breaking a client that only echoes them back.
 */
export function encodeCursor(key: string): string {
  return Buffer.from(JSON.stringify({ k: key })).toString('base64url');
}

/**
 * The sort key inside a cursor from {@link encodeCursor}.
 *
 * @throws {AppError} `ERR_VALIDATION` (400) naming `cursor` when it was not made by this server.
 */
export function decodeCursor(cursor: string): string {
  try {
    const value = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as { k?: unknown };
    if (typeof value.k === 'string') return value.k;
  } catch {
    // fall through to the problem below
  }
  throw badCursor();
}

/** Largest PostgreSQL `bigint`: a sequence number in a cursor is checked against it. */
export const BIGINT_MAX = 9_223_372_036_854_775_807n;

/**
 * A non-negative decimal sequence number from a cursor, range-checked as a PostgreSQL `bigint`.
 *
 * @throws {AppError} `ERR_VALIDATION` (400) naming `cursor` for anything else (a number past
 * {@link BIGINT_MAX} would otherwise fail inside the database).
 */
export function cursorSeq(digits: string): string {
  if (!/^\d{1,19}$/.test(digits) || BigInt(digits) > BIGINT_MAX) throw badCursor();
  return digits;
}

/** The 400 problem for a cursor this API did not make (or made for another listing or order). */
export function badCursor(): AppError {
  return new AppError(
    'ERR_VALIDATION',
    'invalid request query: cursor: not a cursor returned by this API',
    {
      errors: [{ path: 'cursor', message: 'not a cursor returned by this API' }],
    },
  );
}

/**
 * Builds a page from rows fetched with `limit + 1`: the extra row only tells that there is more.
 *
 * @param key The sort key of an item, encoded into the next cursor.
 */
export function toPage<T>(rows: T[], limit: number, key: (item: T) => string): Page<T> {
  const items = rows.slice(0, limit);
  const more = rows.length > limit;
  return { items, nextCursor: more && items.length ? encodeCursor(key(items.at(-1)!)) : null };
}
