import type { FetchLike } from '../token/options.ts';
import { PolicyClientError } from './errors.ts';

/** Bundles and feed pages are small; anything larger is a misconfiguration or an attack. */
const MAX_BODY_CHARS = 4 * 1024 * 1024;

/** Outcome of {@link fetchText}: the body, or `not-modified` for a 304. */
export type TextResponse = { status: 200; text: string; etag?: string } | { status: 304 };

/**
 * GETs a text document (a compact JWS). A 304 is passed on; any other non-2xx status, a timeout,
 * an abort through `signal`, or an oversized body rejects with `ERR_POLICY_FETCH`.
 */
export async function fetchText(
  fetchImpl: FetchLike,
  url: string,
  options: { timeoutMs: number; signal: AbortSignal; headers?: Record<string, string> },
): Promise<TextResponse> {
  let response: Response;
  try {
    response = await fetchImpl(url, {
      signal: AbortSignal.any([AbortSignal.timeout(options.timeoutMs), options.signal]),
      headers: { accept: 'application/jwt', ...options.headers },
    });
  } catch (cause) {
    throw new PolicyClientError('ERR_POLICY_FETCH', `GET ${url} failed (${reason(cause)})`, {
      cause,
    });
  }
  if (response.status === 304) {
    await response.body?.cancel();
    return { status: 304 };
  }
  if (!response.ok) {
    await response.body?.cancel();
    throw new PolicyClientError('ERR_POLICY_FETCH', `GET ${url} answered HTTP ${response.status}`);
  }
  const text = await response.text();
  if (text.length > MAX_BODY_CHARS)
    throw new PolicyClientError('ERR_POLICY_FETCH', `GET ${url}: document too large`);
  return { status: 200, text: text.trim(), etag: response.headers.get('etag') ?? undefined };
}

/** A short, log-friendly reason for a failed fetch: `ECONNREFUSED`, `timed out`, … */
function reason(error: unknown): string {
  if (error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError'))
    return 'timed out or aborted';
  // undici reports network failures as `TypeError: fetch failed` with the system error as cause.
  const cause = (error as { cause?: { code?: unknown; message?: unknown } } | undefined)?.cause;
  if (typeof cause?.code === 'string') return cause.code;
  if (typeof cause?.message === 'string') return cause.message;
  return error instanceof Error ? error.message : 'network error';
}

/** `<issuer><path>`, keeping a path the issuer may have (`https://h/tenant` → `https://h/tenant/policy/…`). */
export function issuerUrl(issuer: string, path: string): string {
  return `${issuer.replace(/\/$/, '')}${path}`;
}
