import { errors, type KoaContextWithOIDC } from 'oidc-provider';

export const CLIENT_CREDENTIALS = 'client_credentials';
export const CIBA_GRANT_TYPE = 'urn:openid:params:grant-type:ciba';

/** Client metadata only an admin sets (CLI, admin API): the MCP server resource a client is. */
export const MCP_RESOURCE = 'mcp_resource';

/** Hosts on which OAuth 2.1 (§2.3.1, RFC 8252 §7.3) allows a plain `http:` redirect URI. */
const LOOPBACK = new Set(['127.0.0.1', '[::1]', 'localhost']);

/**
 * Rules every client's metadata must satisfy, whoever registers it (oidc-provider's
 * `extraClientMetadata.validator`, called on every validation: Dynamic Client Registration, the
 * admin's `Client.validate`, and each load of a stored client). Rules:
 * - a redirect URI with the `http:` scheme names a loopback host (`127.0.0.1`, `[::1]`,
 *   `localhost`), else `invalid_redirect_uri` (OAuth 2.1 §2.3.1); other schemes are left to
 *   oidc-provider;
 * - a public client (`token_endpoint_auth_method: none`) never gets `client_credentials`;
 * - `mcp_resource`, when set, is an absolute http(s) URL;
 * - Dynamic Client Registration gets user-delegated flows only: no `client_credentials`, no
 *   CIBA, no `mcp_resource` (each `invalid_client_metadata`), and its `scope` is dropped (what
 *   an MCP client obtains is decided by the user's roles, not by what it registered).
 * Throws oidc-provider errors; the caller (registration endpoint, admin service) answers them.
 */
export function validateClientMetadata(
  ctx: KoaContextWithOIDC | undefined,
  key: string,
  _value: unknown,
  metadata: Record<string, unknown>,
): void {
  // Called once per extra property: the whole-client rules run on the first one only.
  if (key !== 'mcp_registration') {
    if (key === MCP_RESOURCE && metadata[key] !== undefined) checkResource(metadata[key]);
    return;
  }
  for (const uri of Array.isArray(metadata.redirect_uris) ? metadata.redirect_uris : []) {
    const url = typeof uri === 'string' ? URL.parse(uri) : null;
    if (url?.protocol === 'http:' && !LOOPBACK.has(url.hostname)) {
      throw Object.assign(new errors.InvalidRedirectUri(), {
        error_description:
          'http: redirect URIs are allowed only on loopback hosts (127.0.0.1, [::1], localhost); use https:',
      });
    }
  }
  const grants = Array.isArray(metadata.grant_types) ? metadata.grant_types : [];
  if (metadata.token_endpoint_auth_method === 'none' && grants.includes(CLIENT_CREDENTIALS)) {
    throw new errors.InvalidClientMetadata(
      'a public client (token_endpoint_auth_method none) cannot use client_credentials',
    );
  }
  if (ctx?.oidc?.route === 'registration') {
    const refused = grants.filter((g) => g === CLIENT_CREDENTIALS || g === CIBA_GRANT_TYPE);
    if (refused.length) {
      throw new errors.InvalidClientMetadata(
        `grant type ${refused.join(', ')} is only for clients an admin registers; dynamic registration allows user-delegated flows`,
      );
    }
    if (metadata[MCP_RESOURCE] !== undefined)
      throw new errors.InvalidClientMetadata(`${MCP_RESOURCE} is set by an admin only`);
    delete metadata.scope;
  }
}

/**
 * Client ID Metadata Documents (`features.clientIdMetadataDocument.allowClient`) describe
 * user-delegated clients only: no `client_credentials`, no CIBA, no `mcp_resource`.
 */
export function allowMetadataDocumentClient(
  _ctx: unknown,
  client: { grantTypes?: string[]; metadata(): Record<string, unknown> },
): boolean {
  const grants = client.grantTypes ?? [];
  if (
    grants.includes(CLIENT_CREDENTIALS) ||
    grants.includes(CIBA_GRANT_TYPE) ||
    client.metadata()[MCP_RESOURCE] !== undefined
  ) {
    throw new errors.InvalidClientMetadata(
      'a client ID metadata document may describe user-delegated flows only (no client_credentials, CIBA or mcp_resource)',
    );
  }
  return true;
}

function checkResource(value: unknown): void {
  const url = typeof value === 'string' ? URL.parse(value) : null;
  if (!url || (url.protocol !== 'https:' && url.protocol !== 'http:')) {
    throw new errors.InvalidClientMetadata(`${MCP_RESOURCE} must be an absolute http(s) URL`);
  }
}
