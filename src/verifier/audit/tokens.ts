import {
  ClientSecretBasic,
  clientCredentialsGrantRequest,
  processClientCredentialsResponse,
  type Client,
} from 'oauth4webapi';
import { discoverMetadata, transportOptions, type MetadataWith } from '../token/discovery.ts';
import type { FetchLike } from '../token/options.ts';

/** Timeout of the metadata lookups and of each token request, in ms. */
const TIMEOUT_MS = 5_000;

/**
 * Fetches client_credentials tokens (RFC 6749 §4.4, client_secret_basic) for `<issuer>/audit`
 * with scope `audit:write`, through oauth4webapi (`clientCredentialsGrantRequest`,
 * `processClientCredentialsResponse`); the token endpoint comes from the issuer's metadata, looked
 * up once it is needed and then kept. No token cache here: the audit transport keeps a token for
 * every POST and asks again only after a 401 (expired or revoked), so a token is in effect held
 * until it expires, and caching here as well would hand a refused token straight back. Concurrent
 * calls share one request.
 */
export function auditTokens(
  issuer: string,
  clientId: string,
  clientSecret: string,
  fetchImpl: FetchLike,
): () => Promise<string> {
  const client: Client = { client_id: clientId };
  const authentication = ClientSecretBasic(clientSecret);
  // FetchLike only knows GET options; the global fetch signature is what every implementation has.
  const post = fetchImpl as typeof globalThis.fetch;
  let metadata: MetadataWith<'token_endpoint'> | undefined;
  let inflight: Promise<string> | undefined;

  const request = async (): Promise<string> => {
    metadata ??= await discoverMetadata(fetchImpl, issuer, TIMEOUT_MS, 'token_endpoint');
    const response = await clientCredentialsGrantRequest(
      metadata,
      client,
      authentication,
      { resource: `${issuer.replace(/\/$/, '')}/audit`, scope: 'audit:write' },
      transportOptions(issuer, post, TIMEOUT_MS),
    );
    return (await processClientCredentialsResponse(metadata, client, response)).access_token;
  };

  return () => (inflight ??= request().finally(() => (inflight = undefined)));
}
