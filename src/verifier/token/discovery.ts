import {
  allowInsecureRequests,
  customFetch,
  discoveryRequest,
  processDiscoveryResponse,
  type AuthorizationServer,
  type HttpRequestOptions,
} from 'oauth4webapi';
import type { FetchLike } from './options.ts';

/** Metadata and key sets are small; anything bigger is a misconfiguration or an attack. */
const MAX_DOCUMENT_CHARS = 512 * 1024;

/**
 * GETs `url` through `fetchImpl` and reads a 200's body, refusing one over
 * {@link MAX_DOCUMENT_CHARS}; the answer comes back as a fresh `Response` (other statuses without
 * their body). `fetchImpl` gets only what the {@link FetchLike} contract promises: signal and
 * headers, redirects followed as `fetch` does by default.
 */
async function getBounded(
  fetchImpl: FetchLike,
  url: string,
  init: { signal?: AbortSignal; headers?: Record<string, string> },
): Promise<Response> {
  const response = await fetchImpl(url, init);
  const { status, headers } = response;
  if (status !== 200) {
    await response.body?.cancel();
    return new Response(null, { status, headers });
  }
  const text = await response.text();
  if (text.length > MAX_DOCUMENT_CHARS) throw new Error(`GET ${url}: document too large`);
  return new Response(text, { status, headers });
}

/** GETs a JSON document; any non-2xx status, timeout, oversize or parse failure rejects. */
export async function fetchJson(
  fetchImpl: FetchLike,
  url: string,
  timeoutMs: number,
): Promise<unknown> {
  const response = await getBounded(fetchImpl, url, {
    signal: AbortSignal.timeout(timeoutMs),
    headers: { accept: 'application/json' },
  });
  if (response.status !== 200) throw new Error(`GET ${url} answered HTTP ${response.status}`);
  return JSON.parse(await response.text()) as unknown;
}

/**
 * oauth4webapi's transport options for requests to `issuer`'s endpoints: through `fetchImpl`,
 * each with a `timeoutMs` timeout. Plain `http:` is accepted exactly when the issuer itself is
 * `http:` (a local authorization server); oauth4webapi refuses it otherwise.
 */
export function transportOptions<Method, Body>(
  issuer: string,
  fetchImpl: (
    url: string,
    init: { signal?: AbortSignal; headers?: Record<string, string> },
  ) => Promise<Response>,
  timeoutMs: number,
): HttpRequestOptions<Method, Body> {
  return {
    signal: () => AbortSignal.timeout(timeoutMs),
    [customFetch]: fetchImpl,
    [allowInsecureRequests]: new URL(issuer).protocol === 'http:',
  };
}

/** Metadata that names the endpoint a caller came for. */
export type MetadataWith<K extends 'jwks_uri' | 'token_endpoint'> = AuthorizationServer &
  Record<K, string>;

/**
 * The issuer's authorization server metadata, read with oauth4webapi (`discoveryRequest`,
 * `processDiscoveryResponse`): RFC 8414 (`/.well-known/oauth-authorization-server` inserted
 * before the issuer's path) first, OpenID Connect Discovery (appended) second, the first document
 * that names `endpoint` as an absolute URL winning. The document's `issuer` must be ours
 * (RFC 8414 §3.3): otherwise a metadata document served from the wrong place could point us at
 * someone else's keys.
 * @throws the last failure when neither document serves.
 */
export async function discoverMetadata<K extends 'jwks_uri' | 'token_endpoint'>(
  fetchImpl: FetchLike,
  issuer: string,
  timeoutMs: number,
  endpoint: K,
): Promise<MetadataWith<K>> {
  const issuerUrl = new URL(issuer);
  const options = transportOptions<'GET', undefined>(
    issuer,
    (url, init) => getBounded(fetchImpl, url, { signal: init.signal, headers: init.headers }),
    timeoutMs,
  );
  let lastError: unknown;
  for (const algorithm of ['oauth2', 'oidc'] as const) {
    try {
      const metadata = await processDiscoveryResponse(
        issuerUrl,
        await discoveryRequest(issuerUrl, { ...options, algorithm }),
      );
      const value = metadata[endpoint];
      if (typeof value !== 'string' || !URL.canParse(value))
        throw new Error(`${algorithm} metadata: ${endpoint} missing`);
      return metadata as MetadataWith<K>;
    } catch (error) {
      lastError = error;
    }
  }
  throw lastError;
}
