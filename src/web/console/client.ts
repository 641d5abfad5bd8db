import type { Kysely } from 'kysely';
import type Provider from 'oidc-provider';
import type { Database } from '../../db/schema.ts';
import { isAppError } from '../../errors.ts';
import { registerClient } from '../../oidc/clients.ts';

/** The console's client id: a first-party OAuth client of this server (ARCHITECTURE.md §13). */
export const CONSOLE_CLIENT_ID = 'mcp-elevate-console';
const CONSOLE_CLIENT_NAME = 'mcp-elevate admin console';

/** Where the authorization server sends the browser back to the console. */
export const consoleRedirectUri = (issuer: string) => `${issuer}/console/callback`;

/**
 * Makes sure the console's client is registered with the redirect URI of this issuer: a public
 * client (PKCE, no secret to keep) for the authorization code grant, validated by oidc-provider
 * like any other. Idempotent, safe when several instances do it at once; an admin who deletes it
 * gets it back the next time someone opens the console.
 */
export async function ensureConsoleClient(
  provider: Provider,
  db: Kysely<Database>,
  issuer: string,
): Promise<void> {
  const redirect = consoleRedirectUri(issuer);
  const row = await db
    .selectFrom('oidc_payload')
    .select('payload')
    .where('model', '=', 'Client')
    .where('id', '=', CONSOLE_CLIENT_ID)
    .executeTakeFirst();
  const uris = row?.payload.redirect_uris;
  if (Array.isArray(uris) && uris.length === 1 && uris[0] === redirect) return;
  // Another issuer than the one it was registered under: register it again for this one.
  if (row)
    await db
      .deleteFrom('oidc_payload')
      .where('model', '=', 'Client')
      .where('id', '=', CONSOLE_CLIENT_ID)
      .execute();
  try {
    await registerClient(provider, db, {
      id: CONSOLE_CLIENT_ID,
      name: CONSOLE_CLIENT_NAME,
      redirectUris: [redirect],
      grantTypes: ['authorization_code'],
      authMethod: 'none',
    });
  } catch (err) {
    if (!isAppError(err, 'ERR_CONFLICT')) throw err;
  }
}
