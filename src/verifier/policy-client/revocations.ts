import { compactVerify } from 'jose';
import { LRUCache } from 'lru-cache';
import { z } from 'zod';
import { TemporarilyUnavailableError } from '../errors.ts';
import type { KeyResolver } from '../token/jwks.ts';
import type { FetchLike } from '../token/options.ts';
import { PolicyClientError } from './errors.ts';
import { fetchText, issuerUrl } from './fetch-text.ts';

/** JWS `typ` of a revocation feed page. */
export const REVOCATIONS_TYP = 'revocations+jwt';
/** Path of the feed below the issuer. */
export const REVOCATIONS_PATH = '/elevation/v1/revocations';

const CURSOR = /^\d{1,18}$/;

const PageSchema = z.object({
  iss: z.string(),
  revoked: z.array(z.object({ elevation: z.string().min(1).max(256), revoked_at: z.number() })),
  next: z
    .union([z.string(), z.number().int().nonnegative()])
    .transform(String)
    .pipe(z.string().regex(CURSOR)),
});

/**
 * Revoked elevation ids, bounded twice: an id is forgotten `retentionMs` after its revocation
 * (its tokens have expired by then), and beyond `max` ids the oldest revocations go first (the
 * feed delivers revocations in order and a lookup does not count as use, so least recently
 * added is oldest).
 */
export class RevocationSet {
  readonly #revoked: LRUCache<string, true>;
  readonly #retentionMs: number;

  /** @param now The clock revocation times are compared with, in ms since the epoch. */
  constructor(retentionMs: number, max: number, now: () => number) {
    this.#retentionMs = retentionMs;
    // Bounded by maxSize (one unit per id), not max: lru-cache allocates `max` slots up front,
    // about 4 MB for the default 100 000, while the set is nearly always almost empty.
    this.#revoked = new LRUCache({
      maxSize: max,
      sizeCalculation: () => 1,
      perf: { now },
      ttlResolution: 0,
    });
  }

  get size(): number {
    return this.#revoked.size;
  }

  has(elevationId: string): boolean {
    return this.#revoked.has(elevationId);
  }

  /** Records a revocation at `revokedAtMs`; one too old to matter at `nowMs` is not kept. */
  add(elevationId: string, revokedAtMs: number, nowMs: number): void {
    const ttl = revokedAtMs + this.#retentionMs - nowMs;
    if (ttl <= 0 || this.#revoked.has(elevationId)) return;
    this.#revoked.set(elevationId, true, { ttl, start: nowMs });
  }

  /** Drops ids whose retention has ended (they already answer `has` with false). */
  prune(): void {
    this.#revoked.purgeStale();
  }
}

/** Settings of {@link createRevocationReader}. */
export interface RevocationReaderOptions {
  issuer: string;
  fetch: FetchLike;
  getKey: KeyResolver;
  algorithms: string[];
  timeoutMs: number;
  signal: AbortSignal;
}

/** One verified page of the feed. */
export interface RevocationPage {
  revoked: Array<{ elevation: string; revokedAtMs: number }>;
  next: string;
}

/**
 * Returns a function reading one page of the revocation feed after `cursor`. A page is accepted
 * when: it is a compact JWS with header `typ: revocations+jwt` and an allowed `alg`, signed by a
 * key of the issuer's JWKS; its payload's `iss` is the issuer; and its `next` cursor does not go
 * back before `cursor` (a replayed old page must not hide later revocations).
 */
export function createRevocationReader(
  options: RevocationReaderOptions,
): (cursor: string) => Promise<RevocationPage> {
  const base = issuerUrl(options.issuer, REVOCATIONS_PATH);
  return async (cursor) => {
    const response = await fetchText(options.fetch, `${base}?since=${encodeURIComponent(cursor)}`, {
      timeoutMs: options.timeoutMs,
      signal: options.signal,
    });
    if (response.status === 304)
      throw new PolicyClientError(
        'ERR_REVOCATIONS_INVALID',
        'unexpected 304 from the revocation feed',
      );
    let bytes: Uint8Array;
    try {
      const verified = await compactVerify(response.text, options.getKey, {
        algorithms: options.algorithms,
      });
      const typ = verified.protectedHeader.typ?.toLowerCase().replace(/^application\//, '');
      if (typ !== REVOCATIONS_TYP)
        throw new Error(`unexpected typ ${String(verified.protectedHeader.typ)}`);
      bytes = verified.payload;
    } catch (cause) {
      if (cause instanceof TemporarilyUnavailableError) {
        throw new PolicyClientError('ERR_POLICY_FETCH', 'the issuer signing keys are unavailable', {
          cause,
        });
      }
      throw new PolicyClientError('ERR_POLICY_SIGNATURE', 'revocation feed failed verification', {
        cause,
      });
    }
    let parsed;
    try {
      parsed = PageSchema.parse(JSON.parse(new TextDecoder().decode(bytes)));
    } catch (cause) {
      throw new PolicyClientError(
        'ERR_REVOCATIONS_INVALID',
        'revocation feed payload is malformed',
        { cause },
      );
    }
    if (parsed.iss !== options.issuer)
      throw new PolicyClientError('ERR_POLICY_SIGNATURE', 'revocation feed from another issuer');
    if (BigInt(parsed.next) < BigInt(cursor)) {
      throw new PolicyClientError(
        'ERR_REVOCATIONS_INVALID',
        `revocation cursor went back from ${cursor} to ${parsed.next}`,
      );
    }
    return {
      revoked: parsed.revoked.map((r) => ({
        elevation: r.elevation,
        revokedAtMs: r.revoked_at * 1000,
      })),
      next: parsed.next,
    };
  };
}
