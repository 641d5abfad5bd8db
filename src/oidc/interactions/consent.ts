import type Provider from 'oidc-provider';
import type { InteractionResults } from 'oidc-provider';
import type { Catalogue } from '../../policy/index.ts';
import type { RoleService } from '../../roles/role-service.ts';
import type { UserRepository } from '../../accounts/users.ts';
import type { AuditLog } from '../../audit/audit-log.ts';
import type { ElevationService } from '../../elevation/service.ts';
import { IneligibleError } from '../../elevation/errors.ts';
import { formatDuration } from '../../http/format.ts';
import { OIDC_SCOPES, acceptedScopes } from '../resources.ts';
import { grantFor } from '../grants.ts';
import {
  JUSTIFICATION_MAX,
  JUSTIFICATION_MESSAGES,
  justificationProblem,
  truncateCodePoints,
} from '../../http/text.ts';

export interface ConsentDeps {
  provider: Provider;
  catalogue: Catalogue;
  roles: RoleService;
  users: UserRepository;
  audit: AuditLog;
  elevation: ElevationService;
  issuer: string;
}

type Details = Awaited<ReturnType<Provider['interactionDetails']>>;

export type ConsentView =
  | { kind: 'page'; page: ConsentPage }
  | { kind: 'finish'; result: InteractionResults }
  | { kind: 'wait'; ticketId: string };

/** The consent form; `error` and `justification` are set when a submitted form is shown again. */
export interface ConsentPage {
  email: string;
  resource: string;
  elevated: boolean;
  /** Whether a refresh token will be issued (offline_access survived oidc-provider's checks). */
  refreshToken: boolean;
  scopes: Array<{ name: string; description: string; lifetime: string; approval?: string }>;
  error?: string;
  justification?: string;
}

const deny = (error: string, error_description: string): ConsentView => ({
  kind: 'finish',
  result: { error, error_description },
});

/**
 * Decides a consent prompt. Rules:
 * - a request for catalogue scopes names exactly one known `resource` (RFC 8707);
 * - every elevated scope needs its `minRole`; otherwise `access_denied` naming the missing role;
 * - elevated scopes need a justification on the consent form, under the one justification rule
 *   (`justificationProblem`: printable, not blank, at most 200 code points); a refused one shows
 *   the form again with the reason;
 * - the base scopes are always granted with the resource.
 */
export async function decideConsent(
  deps: ConsentDeps,
  details: Details,
  submit?: { confirmed: boolean; justification?: string },
): Promise<ConsentView> {
  const { catalogue } = deps;
  const accountId = details.session?.accountId;
  if (!accountId) return deny('login_required', 'no signed-in user');
  const clientId = String(details.params.client_id);
  const requested = String(details.params.scope ?? '')
    .split(' ')
    .filter(Boolean);
  const rawResource = details.params.resource;
  const resources =
    rawResource === undefined
      ? []
      : Array.isArray(rawResource)
        ? rawResource.map(String)
        : [String(rawResource)];
  const wantsCatalogue = requested.some((s) => !OIDC_SCOPES.has(s));
  if (wantsCatalogue && resources.length !== 1) {
    return deny(
      'invalid_target',
      'exactly one resource parameter naming an MCP server is required',
    );
  }
  const resource = resources[0];
  const allowed = resource ? (acceptedScopes(catalogue, deps.issuer, resource) ?? []) : [];
  if (resource && !allowed.length) return deny('invalid_target', 'unknown resource');

  const resourceScopes = [
    ...new Set([...catalogue.baseScopes, ...requested.filter((s) => allowed.includes(s))]),
  ];
  const elevated = resourceScopes.filter((s) => catalogue.scopes[s]?.minRole);
  const principal = {
    kind: 'user' as const,
    id: accountId,
    roles: await deps.users.rolesOf(accountId),
  };
  try {
    await deps.elevation.checkEligible(principal, elevated);
  } catch (err) {
    if (!(err instanceof IneligibleError)) throw err;
    await deps.audit.append({
      action: 'elevation.ineligible',
      result: 'denied',
      actor: accountId,
      subject: accountId,
      clientId,
      resource,
      data: { scope: err.scope, requiredRole: err.requiredRole, channel: 'interactive' },
    });
    return deny('access_denied', err.message);
  }

  const page = async (): Promise<ConsentPage> => {
    const user = await deps.users.findById(accountId);
    return {
      email: user?.email ?? '',
      resource: resource ?? '(sign-in only)',
      elevated: elevated.length > 0,
      // oidc-provider has already dropped offline_access when it will not be honoured (no
      // prompt=consent, OIDC Core §11, or a client without the refresh_token grant).
      refreshToken: requested.includes('offline_access'),
      scopes: resourceScopes.map((name) => {
        const def = catalogue.scopes[name];
        return {
          name,
          description: def?.description ?? name,
          lifetime: def?.minRole && def.expiresIn ? formatDuration(def.expiresIn) : 'standard',
          approval: def?.approval ? def.approval.groups.join(' or ') : undefined,
        };
      }),
    };
  };
  if (!submit?.confirmed) return { kind: 'page', page: await page() };
  // The same rule as CIBA's binding_message: what approvers read must be what was written.
  const problem = elevated.length ? justificationProblem(submit.justification, true) : undefined;
  if (problem) {
    const shown =
      submit.justification &&
      truncateCodePoints(submit.justification.toWellFormed(), JUSTIFICATION_MAX * 2);
    return {
      kind: 'page',
      page: {
        ...(await page()),
        error: `Please correct the form: ${JUSTIFICATION_MESSAGES[problem]}.`,
        justification: shown,
      },
    };
  }

  if (elevated.length) {
    const outcome = await deps.elevation.request({
      principal,
      clientId,
      scopes: elevated,
      resource: resource!,
      justification: submit.justification!.trim(),
      channel: 'interactive',
      ref: details.uid,
    });
    if (outcome.status === 'pending') return { kind: 'wait', ticketId: outcome.ticket.id };
    return finishWithGrant(deps, details, {
      accountId,
      clientId,
      resource,
      requested,
      resourceScopes,
      elevationId: outcome.elevation.id,
    });
  }
  return finishWithGrant(deps, details, {
    accountId,
    clientId,
    resource,
    requested,
    resourceScopes,
  });
}

/** Saves the grant for what was consented (and, for elevated scopes, approved) and finishes. */
export async function finishWithGrant(
  deps: ConsentDeps,
  details: Details,
  g: {
    accountId: string;
    clientId: string;
    resource?: string;
    requested: string[];
    resourceScopes?: string[];
    elevationId?: string | null;
  },
): Promise<ConsentView> {
  let grantId: string;
  if (g.resource) {
    grantId = (
      await grantFor(deps.provider, deps.catalogue, {
        issuer: deps.issuer,
        accountId: g.accountId,
        clientId: g.clientId,
        resource: g.resource,
        scopes: g.requested,
        grantId: details.grantId,
      })
    ).jti;
    // Tokens of this grant are bound to this flow's elevation (see hooks/jwt-customizer.ts).
    if (g.elevationId) await deps.elevation.attachGrant(g.elevationId, grantId);
  } else {
    const grant =
      (details.grantId && (await deps.provider.Grant.find(details.grantId))) ||
      new deps.provider.Grant({ accountId: g.accountId, clientId: g.clientId });
    const oidc = g.requested.filter((s) => OIDC_SCOPES.has(s));
    if (oidc.length) grant.addOIDCScope(oidc.join(' '));
    grantId = await grant.save();
  }
  const missingClaims = (details.prompt.details as { missingOIDCClaims?: string[] })
    .missingOIDCClaims;
  if (missingClaims?.length) {
    const grant = (await deps.provider.Grant.find(grantId))!;
    grant.addOIDCClaims(missingClaims);
    await grant.save();
  }
  await deps.audit.append({
    action: 'consent.granted',
    result: 'success',
    actor: g.accountId,
    subject: g.accountId,
    clientId: g.clientId,
    resource: g.resource,
    data: { scopes: g.resourceScopes ?? g.requested },
  });
  return { kind: 'finish', result: { consent: { grantId } } };
}
