import type { Kysely } from 'kysely';
import type { Database, ElevationRow } from '../../db/schema.ts';
import type { ElevationService } from '../../elevation/service.ts';
import { AppError, notFound } from '../../errors.ts';
import type { AdminActor } from '../auth.ts';
import { PAGE_SIZE, toPage, type Page } from '../pagination.ts';
import type { ElevationFilter } from '../schemas.ts';
import { cursorTime, newestFirstCursor, olderThan } from './keyset.ts';

/** Where an elevation stands now. `lapsed`: no token was minted with it before its claim window closed. */
export type ElevationState = 'live' | 'expired' | 'lapsed' | 'revoked';

/** A granted elevation with its state at the time it was read. */
export type ElevationRecord = ElevationRow & { state: ElevationState };

/** Dependencies of {@link ElevationAdminService}. */
export interface ElevationAdminDeps {
  db: Kysely<Database>;
  elevation: Pick<ElevationService, 'revoke' | 'findElevation'>;
  /** Clock. Default `() => new Date()`. */
  currentDate?: () => Date;
}

/**
 * The state of an elevation, by the rules token minting uses (`ElevationService.liveElevations`): live
 * while not revoked and either inside its window, or not yet used and inside its claim window.
 */
export function elevationState(
  e: Pick<ElevationRow, 'revoked_at' | 'expires_at' | 'claim_by'>,
  now: Date,
): ElevationState {
  if (e.revoked_at) return 'revoked';
  if (e.expires_at) return new Date(e.expires_at) > now ? 'live' : 'expired';
  return new Date(e.claim_by) > now ? 'live' : 'lapsed';
}

/**
 * Granted elevations for administrators: listed newest first with filters, and revoked through
 * {@link ElevationService.revoke}, which audits the revocation and feeds the verifiers' revocation
 * feed (ARCHITECTURE.md §6, §7.3).
 */
export class ElevationAdminService {
  readonly #deps: ElevationAdminDeps;

  constructor(deps: ElevationAdminDeps) {
    this.#deps = deps;
  }

  async list(filter: ElevationFilter): Promise<Page<ElevationRecord>> {
    const limit = filter.limit ?? PAGE_SIZE.default;
    const now = this.#now();
    let q = this.#deps.db
      .selectFrom('elevation')
      .selectAll()
      .select(cursorTime('elevation').as('cursor_time'))
      .orderBy('created_at', 'desc')
      .orderBy('id', 'desc')
      .limit(limit + 1);
    const after = olderThan('elevation', filter.cursor);
    if (after) q = q.where(after);
    if (filter.subject !== undefined) q = q.where('subject', '=', filter.subject);
    if (filter.client !== undefined) q = q.where('client_id', '=', filter.client);
    if (filter.live !== undefined) {
      // Every branch is null-safe, so NOT(live) is exactly the complement (no row drops out as NULL).
      q = q.where((eb) => {
        const live = eb.and([
          eb('revoked_at', 'is', null),
          eb.or([
            eb.and([eb('expires_at', 'is not', null), eb('expires_at', '>', now)]),
            eb.and([eb('expires_at', 'is', null), eb('claim_by', '>', now)]),
          ]),
        ]);
        return filter.live ? live : eb.not(live);
      });
    }
    const page = toPage(await q.execute(), limit, newestFirstCursor);
    return { items: page.items.map((e) => this.#record(e, now)), nextCursor: page.nextCursor };
  }

  async get(id: string): Promise<ElevationRecord> {
    const row = await this.#deps.elevation.findElevation(id);
    if (!row) throw notFound(`elevation ${id}`);
    return this.#record(row, this.#now());
  }

  /**
   * Revokes a live or expired elevation once; the admin is recorded as the revoker and the actor
   * of the `elevation.revoked` audit event.
   *
   * @throws {AppError} 404 for an unknown id; 409 `ERR_ALREADY_REVOKED` when it was revoked before.
   */
  async revoke(actor: AdminActor, id: string): Promise<ElevationRecord> {
    const revoked = await this.#deps.elevation.revoke(id, actor.userId);
    if (revoked) return this.#record(revoked, this.#now());
    const existing = await this.get(id);
    throw new AppError('ERR_ALREADY_REVOKED', `elevation ${id} is already revoked`, {
      revokedAt: existing.revoked_at ? new Date(existing.revoked_at).toISOString() : null,
      revokedBy: existing.revoked_by,
    });
  }

  #record(
    { cursor_time: _c, ...row }: ElevationRow & { cursor_time?: string },
    now: Date,
  ): ElevationRecord {
    return { ...row, state: elevationState(row, now) };
  }

  #now(): Date {
    return this.#deps.currentDate?.() ?? new Date();
  }
}
