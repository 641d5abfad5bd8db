import { createHash } from 'node:crypto';
import { importJWK, SignJWT } from 'jose';
import type { RoleService } from '../roles/role-service.ts';
import { canonicalJson, type Catalogue, type Role } from '../policy/index.ts';
import { SIGNING_ALG, type PrivateJwk } from '../keys/keystore.ts';

/** The JWS `typ` of a policy bundle. */
export const POLICY_BUNDLE_TYP = 'policy+jwt';

/** Dependencies of {@link PolicyBundleSigner}. */
export interface PolicyBundleDeps {
  /** This server's issuer: the bundle's `iss`. */
  issuer: string;
  catalogue: Catalogue;
  /** Current roles; its cache is invalidated by the admin API on every role change. */
  roles: Pick<RoleService, 'roles'>;
  /**
   * The keys the provider publishes at `/jwks`, newest first; the bundle is signed with the first,
   * so a verifier can check it with the JWKS it already fetches for tokens.
   */
  signingKeys: readonly PrivateJwk[];
  /** Clock for `iat`. Default `() => new Date()`. */
  currentDate?: () => Date;
}

/** A signed bundle and its validators. */
export interface SignedBundle {
  /** Compact JWS, `typ: policy+jwt`. */
  jws: string;
  /** Hash of the catalogue and roles: changes exactly when the policy does. */
  version: string;
  /** Weak HTTP validator over the version and the signing key. */
  etag: string;
}

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

/** Only what verifiers decide with: drops the `$schema` editor hint of scopes.json. */
function policyContent(catalogue: Catalogue, roles: readonly Role[]) {
  const { $schema: _schema, ...rest } = catalogue;
  return {
    catalogue: rest,
    roles: roles.map((r) => ({
      name: r.name,
      description: r.description ?? '',
      inherits: r.inherits,
      permissions: r.permissions,
    })),
  };
}

/**
 * Signs the policy bundle verifiers load (ARCHITECTURE.md §7.3): `{ iss, iat, version, catalogue, roles }`.
 * A bundle is signed once per version and reused, so repeated fetches cost a hash of the role
 * set, not a signature; the ETag is weak because `iat` and the ECDSA signature differ between
 * instances for the same content.
 */
export class PolicyBundleSigner {
  readonly #deps: PolicyBundleDeps;
  #key?: ReturnType<typeof importJWK>;
  #cached?: { version: string; bundle: Promise<SignedBundle> };

  constructor(deps: PolicyBundleDeps) {
    if (!deps.signingKeys.length)
      throw new TypeError('PolicyBundleSigner needs at least one signing key');
    this.#deps = deps;
  }

  async current(): Promise<SignedBundle> {
    const content = policyContent(this.#deps.catalogue, await this.#deps.roles.roles());
    const version = sha256(canonicalJson(content));
    if (this.#cached?.version !== version) {
      const bundle = this.#sign(version, content);
      // A failed signature must not stay cached.
      bundle.catch(() => {
        if (this.#cached?.bundle === bundle) this.#cached = undefined;
      });
      this.#cached = { version, bundle };
    }
    return this.#cached.bundle;
  }

  async #sign(version: string, content: ReturnType<typeof policyContent>): Promise<SignedBundle> {
    const jwk = this.#deps.signingKeys[0]!;
    this.#key ??= importJWK(jwk, SIGNING_ALG);
    const now = this.#deps.currentDate?.() ?? new Date();
    const jws = await new SignJWT({ version, ...content })
      .setProtectedHeader({ alg: SIGNING_ALG, typ: POLICY_BUNDLE_TYP, kid: jwk.kid })
      .setIssuer(this.#deps.issuer)
      .setIssuedAt(now)
      .sign(await this.#key);
    return { jws, version, etag: `W/"${sha256(`${version}.${jwk.kid}`).slice(0, 32)}"` };
  }
}
