import type { FetchLike } from './options.ts';

/** Metadata and key sets are small; anything bigger is a misconfiguration or an attack. */
const MAX_DOCUMENT_CHARS = 512 * 1024;

/** GETs a JSON document; any non-2xx status, timeout, oversize or parse failure rejects. */
export async function fetchJson(
  fetchImpl: FetchLike,
  url: string,
  timeoutMs: number,
): Promise<unknown> {
  const response = await fetchImpl(url, {
    signal: AbortSignal.timeout(timeoutMs),
    headers: { accept: 'application/json' },
  });
  if (!response.ok) {
    await response.body?.cancel();
    throw new Error(`GET ${url} answered HTTP ${response.status}`);
  }
  const text = await response.text();
  if (text.length > MAX_DOCUMENT_CHARS) throw new Error(`GET ${url}: document too large`);
  return JSON.parse(text) as unknown;
}

/**
 * Where the issuer's metadata may live: RFC 8414 inserts the well-known segment before the
 * issuer's path; OpenID Connect Discovery appends it.
 */
export function metadataUrls(issuer: string): string[] {
  const url = new URL(issuer);
  const path = url.pathname === '/' ? '' : url.pathname.replace(/\/$/, '');
  return [
    `${url.origin}/.well-known/oauth-authorization-server${path}`,
    `${url.origin}${path}/.well-known/openid-configuration`,
  ];
}

/**
 * Finds `jwks_uri` in the issuer's metadata, trying RFC 8414 first and OpenID Discovery second.
 * The document's `issuer` must equal ours (RFC 8414 §3.3): otherwise a metadata document served
 * from the wrong place could point us at someone else's keys.
 */
export async function discoverJwksUri(
  fetchImpl: FetchLike,
  issuer: string,
  timeoutMs: number,
): Promise<string> {
  let lastError: unknown;
  for (const url of metadataUrls(issuer)) {
    try {
      const metadata = await fetchJson(fetchImpl, url, timeoutMs);
      if (typeof metadata !== 'object' || metadata === null)
        throw new Error(`${url}: not a JSON object`);
      const { issuer: advertised, jwks_uri: jwksUri } = metadata as Record<string, unknown>;
      if (advertised !== issuer) throw new Error(`${url}: issuer mismatch`);
      if (typeof jwksUri !== 'string' || !URL.canParse(jwksUri))
        throw new Error(`${url}: jwks_uri missing`);
      return jwksUri;
    } catch (error) {
      lastError = error;
    }
  }
  throw lastError;
}
