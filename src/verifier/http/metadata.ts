/** Settings of {@link protectedResourceMetadata}. */
export interface ProtectedResourceMetadataOptions {
  /** This MCP server's resource URL; the `aud` of its tokens. Required. */
  resource: string;
  /** Issuers whose tokens are accepted. Required, at least one. */
  authorizationServers: string[];
  /** Scopes a client may request for this resource. Default: omitted. `offline_access` is always removed. */
  scopesSupported?: string[];
  /** How tokens may be sent. Default `['header']` (OAuth 2.1 forbids query tokens). */
  bearerMethodsSupported?: string[];
  /** Human-readable name. Default: omitted. */
  resourceName?: string;
  /** URL of developer documentation. Default: omitted. */
  resourceDocumentation?: string;
  /** DPoP proof algorithms accepted. Default: omitted. */
  dpopSigningAlgValuesSupported?: string[];
  /** Whether every token must be DPoP-bound. Default: omitted (false). */
  dpopBoundAccessTokensRequired?: boolean;
}

/** RFC 9728 Protected Resource Metadata document. */
export interface ProtectedResourceMetadata {
  resource: string;
  authorization_servers: string[];
  scopes_supported?: string[];
  bearer_methods_supported: string[];
  resource_name?: string;
  resource_documentation?: string;
  dpop_signing_alg_values_supported?: string[];
  dpop_bound_access_tokens_required?: boolean;
}

function absolute(name: string, value: string): string {
  if (typeof value !== 'string' || !URL.canParse(value))
    throw new TypeError(`${name} must be an absolute URL`);
  return value;
}

/**
 * Builds this resource's RFC 9728 metadata document.
 * `offline_access` is never advertised: the MCP SDK client asks for every listed scope, and a
 * refresh token would let it refresh (losing elevated scopes) instead of re-authorizing (ARCHITECTURE.md §5).
 * @throws TypeError when `resource` or an authorization server is not an absolute URL.
 */
export function protectedResourceMetadata(
  options: ProtectedResourceMetadataOptions,
): ProtectedResourceMetadata {
  absolute('resource', options.resource);
  if (!Array.isArray(options.authorizationServers) || options.authorizationServers.length === 0) {
    throw new TypeError('authorizationServers must list at least one issuer');
  }
  options.authorizationServers.forEach((issuer) => absolute('authorizationServers[]', issuer));
  const document: ProtectedResourceMetadata = {
    resource: options.resource,
    authorization_servers: [...options.authorizationServers],
    bearer_methods_supported: options.bearerMethodsSupported ?? ['header'],
  };
  if (options.scopesSupported)
    document.scopes_supported = options.scopesSupported.filter(
      (scope) => scope !== 'offline_access',
    );
  if (options.resourceName !== undefined) document.resource_name = options.resourceName;
  if (options.resourceDocumentation !== undefined)
    document.resource_documentation = absolute(
      'resourceDocumentation',
      options.resourceDocumentation,
    );
  if (options.dpopSigningAlgValuesSupported)
    document.dpop_signing_alg_values_supported = [...options.dpopSigningAlgValuesSupported];
  if (options.dpopBoundAccessTokensRequired !== undefined)
    document.dpop_bound_access_tokens_required = options.dpopBoundAccessTokensRequired;
  return document;
}

/**
 * Path of the metadata document for `resource` (RFC 9728 §3.1): the well-known segment goes
 * between the host and the resource's path, e.g. `https://h/mcp` → `/.well-known/oauth-protected-resource/mcp`;
 * a bare `/` path adds nothing. Same rule as the MCP SDK's `getOAuthProtectedResourceMetadataUrl`.
 */
export function metadataPath(resource: string): string {
  const { pathname } = new URL(absolute('resource', resource));
  return `/.well-known/oauth-protected-resource${pathname === '/' ? '' : pathname}`;
}

/** Absolute URL of the metadata document for `resource`: the value of `resource_metadata`. */
export function metadataUrl(resource: string): string {
  return new URL(metadataPath(resource), resource).href;
}
