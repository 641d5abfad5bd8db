/**
 * Every fetch oidc-provider makes — Client ID Metadata Documents, client `jwks_uri`, sector
 * identifiers, notification endpoints — goes through the one outbound guard (ARCHITECTURE.md §8), replacing
 * its own dispatcher. Rules:
 * - `fetch(url, options)`: only hosts the guard admits, refused before any connection is made;
 * - `clientIdMetadataDocument.allowFetch(ctx, clientId)`: a Client ID Metadata Document is fetched
 *   only over https, as the draft requires, and only from hosts the guard admits.
 */
import type { Configuration } from 'oidc-provider';
import type { OutboundGuard } from '../../http/outbound.ts';

export function fetchThrough(guard: OutboundGuard): NonNullable<Configuration['fetch']> {
  return (url, options) =>
    guard.fetch(url instanceof Request ? url.url : url, options as never) as never;
}

export function allowMetadataDocumentFetch(guard: OutboundGuard) {
  return async (_ctx: unknown, clientId: string) =>
    clientId.startsWith('https://') && guard.permits(clientId);
}
