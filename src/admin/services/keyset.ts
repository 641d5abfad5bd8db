import { sql, type Expression, type RawBuilder, type SqlBool } from 'kysely';
import { badCursor, decodeCursor } from '../pagination.ts';

/**
 * Keyset pagination of rows newest first, by `(created_at, id)`. The cursor carries `created_at`
 * as PostgreSQL's own text to the microsecond: a JS Date stops at milliseconds, and a cursor that
 * lost the microseconds would skip the rows created in the same millisecond as the page's last.
 */

/** `created_at` of `table` as UTC ISO text with microseconds; select it `as('cursor_time')`. */
export function cursorTime(table: string): RawBuilder<string> {
  return sql<string>`to_char(${sql.ref(`${table}.created_at`)} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;
}

/** The cursor after a row selected with {@link cursorTime}. */
export function newestFirstCursor(row: { cursor_time: string; id: string }): string {
  return `${row.cursor_time} ${row.id}`;
}

const KEY = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z) (.+)$/s;

/**
 * The condition "older than the cursor's row" for `table`, or undefined without a cursor.
 *
 * @throws {AppError} `ERR_VALIDATION` (400) naming `cursor` when it was not made by {@link newestFirstCursor}.
 */
export function olderThan(
  table: string,
  cursor: string | undefined,
): Expression<SqlBool> | undefined {
  if (cursor === undefined) return undefined;
  const match = KEY.exec(decodeCursor(cursor));
  if (!match) throw badCursor();
  const [, time, id] = match;
  return sql<SqlBool>`(${sql.ref(`${table}.created_at`)}, ${sql.ref(`${table}.id`)}) < (${time}::timestamptz, ${id})`;
}
