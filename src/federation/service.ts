import { randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Database } from '../db/schema.ts';
import type { UserRepository } from '../accounts/users.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import type { ElevationService } from '../elevation/service.ts';
import { AppError, isAppError } from '../errors.ts';
import type { Upstream } from './config.ts';
import { FederatedIdentities } from './identities.ts';
import { mappedAccess, profileOf, type UpstreamProfile } from './mapping.ts';

/** Dependencies of {@link FederationService}. */
export interface FederationServiceDeps {
  db: Kysely<Database>;
  users: UserRepository;
  audit: AuditLog;
  /** Revocation and eligibility go through the elevation service: one set of rules. */
  elevation: Pick<ElevationService, 'listElevations' | 'checkEligible' | 'revoke'>;
}

/** How the person came in, for the audit trail. */
export type Arrival = 'returning' | 'created' | 'linked';

/**
 * The person behind an upstream sign-in (ARCHITECTURE.md §12). Rules, in order:
 * 1. (issuer, sub) is the key: a known identity is its user, whatever its email says now;
 * 2. a new identity whose email belongs to no account becomes a new user (just in time), with the
 *    upstream's email and name; it gets no usable password;
 * 3. a new identity whose email belongs to a local account is linked to it only when the upstream
 *    says `email_verified: true` and the upstream has `allowLinking`; otherwise refused (409);
 * 4. disabled accounts never sign in;
 * 5. the roles and groups of the upstream's rules replace those it granted before (an
 *    administrator's assignments stay), audited as `federation.roles_changed` with before/after;
 * 6. live elevations the user is no longer eligible for (the elevation service's own rule) are
 *    revoked through {@link ElevationService.revoke}, which audits and feeds the revocation feed.
 */
export class FederationService {
  readonly #deps: FederationServiceDeps;
  readonly #identities: FederatedIdentities;

  constructor(deps: FederationServiceDeps) {
    this.#deps = deps;
    this.#identities = new FederatedIdentities(deps.db);
  }

  /**
   * Signs in the person of `claims` (validated by the relying party) from upstream `u`.
   * @param issuer - the upstream's issuer as discovered (the ID token's `iss`).
   * @returns the local user id.
   * @throws {AppError} `ERR_UPSTREAM_INVALID` (no `sub`), `ERR_UPSTREAM_DENIED` (no usable email
   *   for a new person, disabled account), `ERR_ACCOUNT_LINK_REFUSED`.
   */
  async signIn(
    u: Upstream,
    issuer: string,
    claims: Record<string, unknown>,
  ): Promise<{ userId: string; arrival: Arrival }> {
    const profile = profileOf(u, claims);
    if (!profile.subject)
      throw new AppError('ERR_UPSTREAM_INVALID', `${u.name} sent no subject identifier.`);
    let arrival: Arrival = 'returning';
    let userId = await this.#identities.signedIn(issuer, profile.subject);
    if (!userId) {
      ({ userId, arrival } = await this.#firstSignIn(u, issuer, profile));
    }
    const user = await this.#deps.users.findById(userId);
    if (!user || user.disabled)
      throw new AppError(
        'ERR_UPSTREAM_DENIED',
        'This account is disabled. Ask your administrator.',
      );
    await this.#applyRules(u, userId, claims);
    return { userId, arrival };
  }

  async #firstSignIn(
    u: Upstream,
    issuer: string,
    profile: UpstreamProfile,
  ): Promise<{ userId: string; arrival: Arrival }> {
    if (!profile.email)
      throw new AppError(
        'ERR_UPSTREAM_DENIED',
        `${u.name} did not share an email address, which a new account needs. ` +
          `Ask your administrator to release the "${u.claims.email}" claim to this server.`,
      );
    const local = await this.#deps.users.findCredentials(profile.email);
    if (local) {
      if (!u.allowLinking || !profile.emailVerified)
        throw new AppError(
          'ERR_ACCOUNT_LINK_REFUSED',
          `An account with the email ${profile.email} already exists here, and it is not ` +
            `linked to your ${u.name} identity. ` +
            (u.allowLinking
              ? `${u.name} does not say this address is verified, so it cannot be linked. `
              : `Linking accounts from ${u.name} is turned off. `) +
            'Sign in with that account, or ask your administrator to link the two.',
        );
      await this.#identities.link(issuer, profile.subject, local.id, u.id);
      return {
        userId: (await this.#identities.signedIn(issuer, profile.subject)) ?? local.id,
        arrival: 'linked',
      };
    }
    let created: string;
    try {
      created = (
        await this.#deps.users.create({
          email: profile.email,
          name: profile.name,
          // Nobody knows it: a federated user signs in at the upstream (an admin may set one).
          password: randomBytes(32).toString('base64url'),
        })
      ).id;
    } catch (err) {
      if (isAppError(err, 'ERR_INVALID'))
        throw new AppError(
          'ERR_UPSTREAM_DENIED',
          `${u.name} sent an email address this server cannot use.`,
        );
      throw err;
    }
    if (!(await this.#identities.link(issuer, profile.subject, created, u.id))) {
      // Another instance signed the same person in at the same moment: keep its user.
      await this.#deps.users.delete(created);
      return {
        userId: (await this.#identities.signedIn(issuer, profile.subject))!,
        arrival: 'returning',
      };
    }
    await this.#deps.audit.append({
      action: 'federation.user_created',
      result: 'success',
      actor: created,
      subject: created,
      data: { upstream: u.id, email: profile.email },
    });
    return { userId: created, arrival: 'created' };
  }

  async #applyRules(u: Upstream, userId: string, claims: Record<string, unknown>): Promise<void> {
    const granted = mappedAccess(u, claims);
    const { before, after } = await this.#identities.syncAccess(userId, u.id, granted);
    const same = (a: string[], b: string[]) => a.join('\n') === b.join('\n');
    if (same(before.roles, after.roles) && same(before.groups, after.groups)) return;
    await this.#deps.audit.append({
      action: 'federation.roles_changed',
      result: 'success',
      actor: `federation:${u.id}`,
      subject: userId,
      data: { upstream: u.id, before, after },
    });
    if (before.roles.every((r) => after.roles.includes(r))) return;
    const live = await this.#deps.elevation.listElevations({ subject: userId, live: true });
    for (const e of live) {
      try {
        await this.#deps.elevation.checkEligible(
          { kind: 'user', id: userId, roles: after.roles },
          e.scopes,
        );
      } catch (err) {
        if (!isAppError(err, 'ERR_INELIGIBLE')) throw err;
        await this.#deps.elevation.revoke(e.id, `federation:${u.id}`);
      }
    }
  }
}
