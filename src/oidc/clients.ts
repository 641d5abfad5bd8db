import { randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import type Provider from 'oidc-provider';
import type { Database } from '../db/schema.ts';
import { AppError, conflict } from '../errors.ts';

export interface NewClientInput {
  id: string;
  secret?: string;
  redirectUris?: string[];
  grantTypes?: string[];
  roles?: string[];
  name?: string;
  /** Scopes the client may ask for; default: any (service scopes only when named). */
  scope?: string;
  /**
   * The MCP server resource this client is (`mcp_resource`): it may then post audit events for
   * that resource. Its scope defaults to `audit:write`, the service scope of audit ingest.
   */
  mcpResource?: string;
}

/**
 * Registers a static client (agent, MCP server, CLI-made app). The metadata is validated by
 * oidc-provider's own client schema before it is stored, so what the CLI or admin API accepts is
 * exactly what the token endpoint will accept. Returns the secret (generated when not given).
 */
export async function registerClient(provider: Provider, db: Kysely<Database>, input: NewClientInput): Promise<{ clientId: string; clientSecret?: string }> {
  const grantTypes = input.grantTypes?.length ? input.grantTypes : input.redirectUris?.length ? ['authorization_code', 'refresh_token'] : ['client_credentials'];
  const isPublic = input.secret === undefined && grantTypes.every((g) => g !== 'client_credentials') && input.redirectUris?.length;
  const secret = isPublic ? undefined : input.secret ?? randomBytes(24).toString('base64url');
  const metadata: Record<string, unknown> = {
    client_id: input.id,
    ...(secret ? { client_secret: secret, token_endpoint_auth_method: 'client_secret_basic' } : { token_endpoint_auth_method: 'none' }),
    grant_types: grantTypes,
    response_types: grantTypes.includes('authorization_code') ? ['code'] : [],
    redirect_uris: input.redirectUris ?? [],
    ...(input.name ? { client_name: input.name } : {}),
    ...(input.scope ? { scope: input.scope } : input.mcpResource ? { scope: 'audit:write' } : {}),
    ...(input.mcpResource ? { mcp_resource: input.mcpResource } : {}),
    // Agents elevate headlessly through CIBA in poll mode (DESIGN §6).
    ...(grantTypes.includes('urn:openid:params:grant-type:ciba') ? { backchannel_token_delivery_mode: 'poll' } : {}),
  };
  try {
    await provider.Client.validate(metadata as never);
  } catch (err) {
    const e = err as { error_description?: string; message: string };
    throw new AppError('ERR_INVALID_CLIENT_METADATA', 400, `invalid client: ${e.error_description ?? e.message}`);
  }
  await db.transaction().execute(async (trx) => {
    const exists = await trx.selectFrom('oidc_payload').select('id').where('model', '=', 'Client').where('id', '=', input.id).executeTakeFirst();
    if (exists) throw conflict(`a client with id ${input.id} already exists`);
    await trx.insertInto('oidc_payload').values({
      model: 'Client', id: input.id, payload: JSON.stringify(metadata),
      grant_id: null, user_code: null, uid: null, expires_at: null, consumed_at: null,
    }).execute();
    if (input.roles?.length) {
      const known = new Set((await trx.selectFrom('role').select('name').where('name', 'in', input.roles).execute()).map((r) => r.name));
      const missing = input.roles.filter((r) => !known.has(r));
      if (missing.length) throw new AppError('ERR_UNKNOWN_REFERENCE', 400, `unknown role: ${missing.join(', ')}`);
      await trx.insertInto('client_role').values(input.roles.map((role_name) => ({ client_id: input.id, role_name }))).execute();
    }
  });
  return { clientId: input.id, clientSecret: secret };
}

/** The MCP server resource an admin registered `clientId` as (`mcp_resource`), if any. */
export async function mcpResourceOf(db: Kysely<Database>, clientId: string): Promise<string | undefined> {
  const row = await db.selectFrom('oidc_payload').select('payload').where('model', '=', 'Client').where('id', '=', clientId).executeTakeFirst();
  const value = row?.payload.mcp_resource;
  return typeof value === 'string' ? value : undefined;
}
