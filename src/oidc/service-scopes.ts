import type { Kysely } from 'kysely';
import type { Database } from '../db/schema.ts';
import type { Catalogue } from '../policy/index.ts';
import { CLIENT_CREDENTIALS } from './registration-rules.ts';

/** Scopes that are service scopes whatever the catalogue says. */
const ALWAYS_SERVICE = ['audit:write'];

/** True for a service scope: `audit:write`, or a catalogue scope marked `service: true`. */
export function isServiceScope(catalogue: Catalogue, scope: string): boolean {
  return ALWAYS_SERVICE.includes(scope) || catalogue.scopes[scope]?.service === true;
}

/**
 * The service scopes (ARCHITECTURE.md §8 Trust boundaries) a token being issued may carry. Rules:
 * - only a client acting for itself (`client_credentials`), never a user-delegated flow;
 * - only a client an admin registered (not a Client ID Metadata Document client; dynamic
 *   registration cannot obtain `client_credentials`, see registration-rules.ts);
 * - only the service scopes the admin allowed it by name: in its registered `scope`, or in the
 *   allowed scopes the admin API keeps (`client_scope`). "No restriction" allows none.
 */
export async function allowedServiceScopes(
  db: Kysely<Database>,
  catalogue: Catalogue,
  grantType: unknown,
  client: { clientId: string; scope?: string; clientIdMetadataDocument?: boolean } | undefined,
): Promise<Set<string>> {
  if (grantType !== CLIENT_CREDENTIALS || !client || client.clientIdMetadataDocument)
    return new Set();
  const rows = await db
    .withTables<{ client_scope: { client_id: string; scope: string } }>()
    .selectFrom('client_scope')
    .select('scope')
    .where('client_id', '=', client.clientId)
    .execute();
  const named = [...String(client.scope ?? '').split(' '), ...rows.map((r) => r.scope)];
  return new Set(named.filter((s) => isServiceScope(catalogue, s)));
}

/** `scope` (space-separated) without the service scopes not in `allowed`. */
export function withoutServiceScopes(
  catalogue: Catalogue,
  scope: string,
  allowed: Set<string>,
): string {
  return scope
    .split(' ')
    .filter((s) => !isServiceScope(catalogue, s) || allowed.has(s))
    .join(' ');
}
