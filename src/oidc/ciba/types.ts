import type { Kysely } from 'kysely';
import type Provider from 'oidc-provider';
import type { CIBAConfigurationBase } from 'oidc-provider';
import type { Database } from '../../db/schema.ts';
import type { Catalogue } from '../../policy/index.ts';
import type { ElevationService } from '../../elevation/service.ts';
import type { OwnTokenVerifier } from '../../tokens/index.ts';
import type { RequestUsers } from '../request-users.ts';

/** The CIBA grant type (OpenID CIBA Core §10.1). */
export const CIBA_GRANT = 'urn:openid:params:grant-type:ciba';

/** What CIBA's callbacks work with. */
export interface CibaDeps {
  db: Kysely<Database>;
  catalogue: Catalogue;
  elevation: ElevationService;
  issuer: string;
  /** The server's one verifier of its own tokens (for `login_hint_token`). */
  tokens: OwnTokenVerifier;
  /** The provider the callbacks are configured into (known once it is built). */
  provider: () => Provider;
  users: RequestUsers;
}

/** The signature oidc-provider gives each `features.ciba` callback. */
export type CibaCallback<K extends keyof CIBAConfigurationBase> = NonNullable<
  CIBAConfigurationBase[K]
>;
