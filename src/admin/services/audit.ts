import type { Kysely, SelectQueryBuilder } from 'kysely';
import type { AuditLog } from '../../audit/audit-log.ts';
import type { AuditRow, Database } from '../../db/schema.ts';
import { badCursor, cursorSeq, decodeCursor, PAGE_SIZE, toPage, type Page } from '../pagination.ts';
import type { AuditFilter, AuditPageRequest } from '../schemas.ts';
import { DEFAULTS } from '../../config/defaults.ts';

/** Events read per database round trip of an export: bounds the memory one export holds. */
export const EXPORT_CHUNK = DEFAULTS.auditExportChunk;

type AuditQuery = SelectQueryBuilder<Database, 'audit_event', AuditRow>;

/** `ticket.*` → the LIKE pattern `ticket.%`, with LIKE's own wildcards in the prefix escaped. */
function likePrefix(prefix: string): string {
  return `${prefix.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

/** The events `filter` selects (every filter narrows; `to` is exclusive). */
function filtered(q: AuditQuery, filter: AuditFilter): AuditQuery {
  if (filter.actor !== undefined) q = q.where('actor', '=', filter.actor);
  if (filter.action !== undefined) {
    q = filter.action.endsWith('.*')
      ? q.where('action', 'like', likePrefix(filter.action.slice(0, -1)))
      : q.where('action', '=', filter.action);
  }
  if (filter.result !== undefined) q = q.where('result', '=', filter.result);
  if (filter.resource !== undefined) q = q.where('resource', '=', filter.resource);
  if (filter.subject !== undefined) q = q.where('subject', '=', filter.subject);
  if (filter.client !== undefined) q = q.where('client_id', '=', filter.client);
  if (filter.from !== undefined) q = q.where('time', '>=', filter.from);
  if (filter.to !== undefined) q = q.where('time', '<', filter.to);
  return q;
}

// A cursor names its direction, so one made for `asc` is refused on a `desc` page instead of
// silently returning the wrong events.
const CURSOR = /^([ad]):(\d{1,19})$/;

/**
 * Queries over the hash-chained audit log (ARCHITECTURE.md §8), in chain order (`seq`). Read-only; the log
 * itself is `AuditLog`, which is flushed first so that a query sees every event written before it.
 */
export class AuditQueryService {
  readonly #db: Kysely<Database>;
  readonly #log: Pick<AuditLog, 'flush'>;

  constructor(deps: { db: Kysely<Database>; log: Pick<AuditLog, 'flush'> }) {
    this.#db = deps.db;
    this.#log = deps.log;
  }

  /** A page of the events `req` selects, newest first unless `order` is `asc`. */
  async page(req: AuditPageRequest): Promise<Page<AuditRow>> {
    await this.#log.flush();
    const limit = req.limit ?? PAGE_SIZE.default;
    const dir = req.order === 'asc' ? 'a' : 'd';
    let q = filtered(this.#db.selectFrom('audit_event').selectAll(), req)
      .orderBy('seq', dir === 'a' ? 'asc' : 'desc')
      .limit(limit + 1);
    if (req.cursor !== undefined) {
      const match = CURSOR.exec(decodeCursor(req.cursor));
      if (!match || match[1] !== dir) throw badCursor();
      q = q.where('seq', dir === 'a' ? '>' : '<', cursorSeq(match[2]!));
    }
    return toPage(await q.execute(), limit, (e) => `${dir}:${String(e.seq)}`);
  }

  /**
   * Every event `filter` selects, oldest first, in chunks of {@link EXPORT_CHUNK}. The export is a
   * snapshot: events appended after the call are left out, so it ends even on a busy server. The
   * first chunk is read before this resolves, so a failing database is an error response rather
   * than a truncated stream.
   */
  async export(filter: AuditFilter): Promise<AsyncIterable<AuditRow[]>> {
    await this.#log.flush();
    const top = await this.#db
      .selectFrom('audit_event')
      .select((eb) => eb.fn.max('seq').as('max'))
      .executeTakeFirst();
    const ceiling = top?.max == null ? '0' : String(top.max);
    const chunk = (after: string) =>
      filtered(this.#db.selectFrom('audit_event').selectAll(), filter)
        .where('seq', '>', after)
        .where('seq', '<=', ceiling)
        .orderBy('seq')
        .limit(EXPORT_CHUNK)
        .execute();
    const first = await chunk('0');
    return (async function* () {
      for (let rows = first; rows.length; rows = await chunk(String(rows.at(-1)!.seq))) {
        yield rows;
        if (rows.length < EXPORT_CHUNK) return;
      }
    })();
  }
}
