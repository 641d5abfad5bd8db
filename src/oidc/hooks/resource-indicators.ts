/**
 * `features.resourceIndicators` (RFC 8707): which MCP server a token is for. Rules:
 * - `defaultResource(ctx, client, oneOf)`: an agent's own token (client_credentials) must name the
 *   MCP server it is for — no audience-less tokens (`invalid_target`); otherwise oidc-provider's
 *   default;
 * - `useGrantedResource(ctx, model)`: a token request without `resource` gets the granted one;
 * - `getResourceServerInfo(ctx, resource, client)`: only resources this server knows
 *   (`invalid_target` otherwise), in the catalogue's spelling whatever the client sent; JWT access
 *   tokens signed with the server's key; the scopes the resource accepts, without the service
 *   scopes this client may not have (`service-scopes.ts`).
 */
import type { Kysely } from 'kysely';
import { errors, type Configuration, type ResourceServer } from 'oidc-provider';
import type { Database } from '../../db/schema.ts';
import type { Catalogue } from '../../policy/index.ts';
import { SIGNING_ALG } from '../../keys/keystore.ts';
import { acceptedScopes, knownResource } from '../resources.ts';
import { allowedServiceScopes, withoutServiceScopes } from '../service-scopes.ts';

type ResourceIndicators = NonNullable<NonNullable<Configuration['features']>['resourceIndicators']>;

export function resourceIndicators(deps: {
  db: Kysely<Database>;
  catalogue: Catalogue;
  issuer: string;
}): ResourceIndicators {
  const { catalogue } = deps;
  const serverInfo = resourceServers(catalogue, deps.issuer);
  return {
    enabled: true,
    async defaultResource(ctx, _client, oneOf) {
      if (oneOf) return oneOf;
      if (ctx.oidc.params?.grant_type === 'client_credentials') {
        throw new errors.InvalidTarget(
          'the resource parameter is required (the MCP server URL the token is for)',
        );
      }
      return undefined;
    },
    useGrantedResource: async () => true,
    async getResourceServerInfo(ctx, resource, client) {
      const info = serverInfo(resource);
      if (!info) throw new errors.InvalidTarget(`unknown resource ${JSON.stringify(resource)}`);
      info.scope = withoutServiceScopes(
        catalogue,
        info.scope,
        await allowedServiceScopes(
          deps.db,
          catalogue,
          ctx.oidc?.params?.grant_type,
          client as Parameters<typeof allowedServiceScopes>[3],
        ),
      );
      return info;
    },
  };
}

type ServerInfo = ResourceServer & {
  scope: string;
  audience: string;
  accessTokenFormat: 'jwt';
  jwt: { sign: { alg: typeof SIGNING_ALG } };
};

/**
 * The resource server info of each resource this server knows, by any spelling of it; built once
 * per resource (the catalogue is frozen at start). Each call hands out a copy: oidc-provider may
 * keep what it is given.
 */
function resourceServers(catalogue: Catalogue, issuer: string) {
  const built = new Map<string, ServerInfo>();
  return (value: string): ServerInfo | undefined => {
    const resource = knownResource(catalogue, issuer, value);
    if (resource === undefined) return undefined;
    let info = built.get(resource);
    if (!info) {
      info = {
        scope: acceptedScopes(catalogue, issuer, resource)!.join(' '),
        audience: resource,
        accessTokenFormat: 'jwt',
        jwt: { sign: { alg: SIGNING_ALG } },
      };
      built.set(resource, info);
    }
    return { ...info, jwt: { sign: { ...info.jwt.sign } } };
  };
}
