import type Provider from 'oidc-provider';
import type { InteractionResults } from 'oidc-provider';
import type { Catalogue } from '../../policy/index.ts';
import type { RoleService } from '../../roles/role-service.ts';
import type { UserRepository } from '../../accounts/users.ts';
import type { AuditLog } from '../../audit/audit-log.ts';
import { adminResource } from '../provider.ts';

export interface ConsentDeps {
  provider: Provider;
  catalogue: Catalogue;
  roles: RoleService;
  users: UserRepository;
  audit: AuditLog;
  issuer: string;
}

type Details = Awaited<ReturnType<Provider['interactionDetails']>>;

export type ConsentView =
  | { kind: 'page'; page: { email: string; resource: string; elevated: boolean; scopes: Array<{ name: string; description: string; lifetime: string; approval?: string }> } }
  | { kind: 'finish'; result: InteractionResults };

const OIDC_SCOPES = new Set(['openid', 'offline_access', 'email', 'profile']);

const deny = (error: string, error_description: string): ConsentView => ({ kind: 'finish', result: { error, error_description } });

/**
 * Decides a consent prompt. Rules:
 * - a request for catalogue scopes names exactly one known `resource` (RFC 8707);
 * - every elevated scope needs its `minRole`; otherwise `access_denied` naming the missing role;
 * - elevated scopes need a justification on the consent form;
 * - the base scopes are always granted with the resource.
 */
export async function decideConsent(deps: ConsentDeps, details: Details, submit?: { confirmed: boolean; justification?: string }): Promise<ConsentView> {
  const { catalogue } = deps;
  const accountId = details.session?.accountId;
  if (!accountId) return deny('login_required', 'no signed-in user');
  const clientId = String(details.params.client_id);
  const requested = String(details.params.scope ?? '').split(' ').filter(Boolean);
  const rawResource = details.params.resource;
  const resources = rawResource === undefined ? [] : Array.isArray(rawResource) ? rawResource.map(String) : [String(rawResource)];
  const wantsCatalogue = requested.some((s) => !OIDC_SCOPES.has(s));
  if (wantsCatalogue && resources.length !== 1) {
    return deny('invalid_target', 'exactly one resource parameter naming an MCP server is required');
  }
  const resource = resources[0];
  const allowed = resource === adminResource(deps.issuer) ? [...catalogue.baseScopes, 'mcp:admin']
    : resource ? [...catalogue.baseScopes, ...(catalogue.resources[resource]?.scopes ?? [])] : [];
  if (resource && !allowed.length) return deny('invalid_target', 'unknown resource');

  const resourceScopes = [...new Set([...catalogue.baseScopes, ...requested.filter((s) => allowed.includes(s))])];
  const elevated = resourceScopes.filter((s) => catalogue.scopes[s]?.minRole);
  const graph = await deps.roles.graph();
  const userRoles = await deps.users.rolesOf(accountId);
  for (const s of elevated) {
    const minRole = catalogue.scopes[s]!.minRole!;
    if (!graph.satisfies(userRoles, minRole)) {
      await deps.audit.append({ action: 'elevation.ineligible', result: 'denied', actor: accountId, subject: accountId, clientId, resource, data: { scope: s, requiredRole: minRole } });
      return deny('access_denied', `scope ${s} requires role ${minRole}`);
    }
  }

  if (!submit?.confirmed) {
    const user = await deps.users.findById(accountId);
    return {
      kind: 'page',
      page: {
        email: user?.email ?? '',
        resource: resource ?? '(sign-in only)',
        elevated: elevated.length > 0,
        scopes: resourceScopes.map((name) => {
          const def = catalogue.scopes[name];
          return {
            name,
            description: def?.description ?? name,
            lifetime: def?.minRole && def.expiresIn ? formatSeconds(def.expiresIn) : 'standard',
            approval: def?.approval ? def.approval.groups.join(' or ') : undefined,
          };
        }),
      },
    };
  }
  if (elevated.length && !submit.justification?.trim()) return { kind: 'page', page: { email: '', resource: resource ?? '', elevated: true, scopes: [] } };

  const grant = details.grantId
    ? (await deps.provider.Grant.find(details.grantId)) ?? new deps.provider.Grant({ accountId, clientId })
    : new deps.provider.Grant({ accountId, clientId });
  // Catalogue scopes are also OP-level scope values (see provider.ts), so oidc-provider expects
  // them in the grant's OIDC part as well as in the resource's.
  const oidcScopes = requested.filter((s) => OIDC_SCOPES.has(s) || resourceScopes.includes(s));
  if (oidcScopes.length) grant.addOIDCScope(oidcScopes.join(' '));
  const missingClaims = (details.prompt.details as { missingOIDCClaims?: string[] }).missingOIDCClaims;
  if (missingClaims?.length) grant.addOIDCClaims(missingClaims);
  if (resource) grant.addResourceScope(resource, resourceScopes.join(' '));
  const grantId = await grant.save();
  await deps.audit.append({
    action: elevated.length ? 'elevation.granted' : 'consent.granted', result: 'success', actor: accountId, subject: accountId, clientId, resource,
    data: { scopes: resourceScopes, ...(elevated.length ? { elevated, justification: submit.justification } : {}) },
  });
  return { kind: 'finish', result: { consent: { grantId } } };
}

function formatSeconds(s: number): string {
  if (s % 3600 === 0) return `${s / 3600} h`;
  if (s % 60 === 0) return `${s / 60} min`;
  return `${s} s`;
}
