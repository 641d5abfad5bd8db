import type { Kysely } from 'kysely';
import type { Database } from '../db/schema.ts';
import type { PrivateJwk } from '../keys/keystore.ts';
import type { Catalogue } from '../policy/index.ts';
import { databaseLookups } from './lookups.ts';
import { OwnTokenVerifier, type OwnTokenVerifierOptions } from './verify.ts';

export { FORBIDDEN_CODES, OwnTokenError, type OwnTokenErrorCode } from './errors.ts';
export { databaseLookups } from './lookups.ts';
export {
  OwnTokenVerifier,
  type OwnToken,
  type OwnTokenLookups,
  type OwnTokenRequirements,
  type OwnTokenVerifierOptions,
} from './verify.ts';

/** What {@link createOwnTokenVerifier} needs from the composition root. */
export interface OwnTokenDeps {
  issuer: string;
  db: Kysely<Database>;
  catalogue: Catalogue;
  roles: { effectiveForUser(id: string): Promise<string[]> };
  loadKeys: () => Promise<PrivateJwk[]>;
  /** Passed through to {@link OwnTokenVerifierOptions}. */
  options?: Pick<
    OwnTokenVerifierOptions,
    'reloadIntervalMs' | 'currentDate' | 'signatureCacheSize'
  >;
}

/** The server's one {@link OwnTokenVerifier}, reading liveness from its database. */
export function createOwnTokenVerifier(deps: OwnTokenDeps): OwnTokenVerifier {
  return new OwnTokenVerifier({
    issuer: deps.issuer,
    loadKeys: deps.loadKeys,
    lookups: databaseLookups(deps.db, deps.roles),
    isElevatedScope: (s) => deps.catalogue.scopes[s]?.minRole !== undefined,
    ...deps.options,
  });
}
export {
  BearerError,
  bearerError,
  requireOwnToken,
  type BearerChallengeOptions,
  type BearerErrorCode,
} from './http.ts';
