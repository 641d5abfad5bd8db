import { randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import type Provider from 'oidc-provider';
import type { Database } from '../db/schema.ts';
import { AppError, conflict } from '../errors.ts';

/** Client authentication methods a registered client may use at the token endpoint (RFC 7591 §2). */
export const CLIENT_AUTH_METHODS = [
  'client_secret_basic',
  'client_secret_post',
  'private_key_jwt',
  'none',
] as const;
export type ClientAuthMethod = (typeof CLIENT_AUTH_METHODS)[number];

export interface NewClientInput {
  id: string;
  secret?: string;
  redirectUris?: string[];
  grantTypes?: string[];
  roles?: string[];
  name?: string;
  /** Scopes the client may ask for; default: any (service scopes only when named). */
  scope?: string;
  /** `token_endpoint_auth_method`; default: `none` for a client with redirect URIs, no secret and
   * no client_credentials, else `client_secret_basic`. */
  authMethod?: ClientAuthMethod;
  /** For `private_key_jwt`: where the client's public keys are published. */
  jwksUri?: string;
  /** For `private_key_jwt`: the client's public keys (a JWK Set). */
  jwks?: { keys: unknown[] };
  /**
   * The MCP server resource this client is (`mcp_resource`): it may then post audit events for
   * that resource. Its scope defaults to `audit:write`, the service scope of audit ingest.
   */
  mcpResource?: string;
}

const invalid = (message: string) =>
  new AppError('ERR_INVALID_CLIENT_METADATA', `invalid client: ${message}`);

/**
 * The authentication metadata of a new client, from the method chosen at registration. Rules:
 * - `client_secret_basic` / `client_secret_post`: a secret (generated when not given), no keys;
 * - `private_key_jwt`: exactly one of `jwksUri` and `jwks`, no secret;
 * - `none`: no secret, no keys, and no client_credentials (a client acting for itself must
 *   authenticate).
 *
 * @throws {AppError} `ERR_INVALID_CLIENT_METADATA` (400) naming the broken rule.
 */
export function clientAuthentication(
  input: NewClientInput,
  grantTypes: string[],
): { metadata: Record<string, unknown>; secret?: string } {
  const method =
    input.authMethod ??
    (input.secret === undefined &&
    !grantTypes.includes('client_credentials') &&
    input.redirectUris?.length
      ? 'none'
      : 'client_secret_basic');
  const keys = input.jwksUri !== undefined || input.jwks !== undefined;
  if (keys && method !== 'private_key_jwt')
    throw invalid('a JWKS (URL or keys) goes only with private_key_jwt');
  if (method === 'private_key_jwt' || method === 'none') {
    if (input.secret !== undefined) throw invalid(`a ${method} client has no secret`);
    if (method === 'none' && grantTypes.includes('client_credentials'))
      throw invalid('a client_credentials client must authenticate; method none is not allowed');
    if (
      method === 'private_key_jwt' &&
      (input.jwksUri === undefined) === (input.jwks === undefined)
    ) {
      throw invalid('private_key_jwt needs its public keys: a JWKS URL or a JWKS, exactly one');
    }
    return {
      metadata: {
        token_endpoint_auth_method: method,
        ...(input.jwksUri !== undefined ? { jwks_uri: input.jwksUri } : {}),
        ...(input.jwks !== undefined ? { jwks: input.jwks } : {}),
      },
    };
  }
  const secret = input.secret ?? newClientSecret();
  return { metadata: { token_endpoint_auth_method: method, client_secret: secret }, secret };
}

/**
 * A new client secret: 24 random bytes (192 bits), base64url. The one generator of secrets, for
 * registration and for rotation ({@link rotateClientSecret}).
 */
export function newClientSecret(): string {
  return randomBytes(24).toString('base64url');
}

/** Authentication methods whose clients hold a shared secret (RFC 7591 §2). */
export const SECRET_AUTH_METHODS: readonly string[] = ['client_secret_basic', 'client_secret_post'];

/**
 * Registers a static client (agent, MCP server, CLI-made app). The metadata is validated by
 * oidc-provider's own client schema before it is stored, so what the CLI or admin API accepts is
 * exactly what the token endpoint will accept. Returns the secret (generated when not given).
 */
export async function registerClient(
  provider: Provider,
  db: Kysely<Database>,
  input: NewClientInput,
): Promise<{ clientId: string; clientSecret?: string }> {
  const grantTypes = input.grantTypes?.length
    ? input.grantTypes
    : input.redirectUris?.length
      ? ['authorization_code', 'refresh_token']
      : ['client_credentials'];
  const { metadata: auth, secret } = clientAuthentication(input, grantTypes);
  const metadata: Record<string, unknown> = {
    client_id: input.id,
    ...auth,
    grant_types: grantTypes,
    response_types: grantTypes.includes('authorization_code') ? ['code'] : [],
    redirect_uris: input.redirectUris ?? [],
    ...(input.name ? { client_name: input.name } : {}),
    ...(input.scope ? { scope: input.scope } : input.mcpResource ? { scope: 'audit:write' } : {}),
    ...(input.mcpResource ? { mcp_resource: input.mcpResource } : {}),
    // Agents elevate headlessly through CIBA in poll mode (ARCHITECTURE.md §6).
    ...(grantTypes.includes('urn:openid:params:grant-type:ciba')
      ? { backchannel_token_delivery_mode: 'poll' }
      : {}),
  };
  try {
    await provider.Client.validate(metadata as never);
  } catch (err) {
    const e = err as { error_description?: string; message: string };
    throw new AppError(
      'ERR_INVALID_CLIENT_METADATA',
      `invalid client: ${e.error_description ?? e.message}`,
    );
  }
  await db.transaction().execute(async (trx) => {
    const exists = await trx
      .selectFrom('oidc_payload')
      .select('id')
      .where('model', '=', 'Client')
      .where('id', '=', input.id)
      .executeTakeFirst();
    if (exists) throw conflict(`a client with id ${input.id} already exists`);
    await trx
      .insertInto('oidc_payload')
      .values({
        model: 'Client',
        id: input.id,
        payload: JSON.stringify(metadata),
        grant_id: null,
        user_code: null,
        uid: null,
        expires_at: null,
        consumed_at: null,
      })
      .execute();
    if (input.roles?.length) {
      const known = new Set(
        (
          await trx.selectFrom('role').select('name').where('name', 'in', input.roles).execute()
        ).map((r) => r.name),
      );
      const missing = input.roles.filter((r) => !known.has(r));
      if (missing.length)
        throw new AppError('ERR_UNKNOWN_REFERENCE', `unknown role: ${missing.join(', ')}`);
      await trx
        .insertInto('client_role')
        .values(input.roles.map((role_name) => ({ client_id: input.id, role_name })))
        .execute();
    }
  });
  return { clientId: input.id, clientSecret: secret };
}

/** The MCP server resource an admin registered `clientId` as (`mcp_resource`), if any. */
export async function mcpResourceOf(
  db: Kysely<Database>,
  clientId: string,
): Promise<string | undefined> {
  const row = await db
    .selectFrom('oidc_payload')
    .select('payload')
    .where('model', '=', 'Client')
    .where('id', '=', clientId)
    .executeTakeFirst();
  const value = row?.payload.mcp_resource;
  return typeof value === 'string' ? value : undefined;
}
