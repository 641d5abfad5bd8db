import type Provider from 'oidc-provider';
import type { KoaContextWithOIDC } from 'oidc-provider';

/** oidc-provider's error events of the endpoints where clients authenticate (docs/events.md). */
const EVENTS = [
  'grant.error',
  'introspection.error',
  'revocation.error',
  'pushed_authorization_request.error',
  'backchannel_authentication.error',
] as const;

/** Why a client authentication failed, in words an operator can act on. */
export type ClientAuthFailureReason =
  | 'unknown_client'
  | 'method_not_allowed'
  | 'wrong_secret'
  | 'secret_expired'
  | 'bad_assertion'
  | 'other';

/** A failed client authentication: what the client presented and why it was refused. Never a secret. */
export interface ClientAuthFailure {
  reason: ClientAuthFailureReason;
  /** The client id the request named (at most 200 characters), when it named one. */
  clientId?: string;
  /** How the request tried to authenticate: `client_secret_basic`, `client_secret_post`, `client_assertion`, `none`. */
  presented: string;
  /** The client's registered `token_endpoint_auth_method`, when the client exists. */
  registered?: string;
  /** The endpoint (oidc-provider route name), e.g. `token`. */
  endpoint?: string;
  /** oidc-provider's internal explanation (`error_detail`); it never contains the secret. */
  detail?: string;
}

const cut = (text: unknown) => (typeof text === 'string' ? text.slice(0, 200) : undefined);

/** The client id of an HTTP Basic `Authorization` header; the secret part is never read. */
function basicClientId(header: string | undefined): string | undefined {
  const [scheme, value] = header?.split(' ') ?? [];
  if (scheme?.toLowerCase() !== 'basic' || !value) return undefined;
  const decoded = Buffer.from(value, 'base64').toString('utf8');
  const i = decoded.indexOf(':');
  if (i < 1) return undefined;
  try {
    return cut(decodeURIComponent(decoded.slice(0, i).replace(/\+/g, '%20')));
  } catch {
    return undefined;
  }
}

/**
 * Explains an `invalid_client` error (oidc-provider's `InvalidClientAuth`, whose response stays
 * the generic "client authentication failed"), or undefined for any other error.
 */
export function explainClientAuthFailure(
  ctx: KoaContextWithOIDC,
  err: unknown,
): ClientAuthFailure | undefined {
  const e = err as { error?: string; error_detail?: string; statusCode?: number };
  if (e?.error !== 'invalid_client') return undefined;
  const params = (ctx.oidc?.params ?? {}) as Record<string, unknown>;
  const authorization = ctx.get('authorization') || undefined;
  const presented = authorization
    ? 'client_secret_basic'
    : params.client_secret !== undefined
      ? 'client_secret_post'
      : params.client_assertion !== undefined
        ? 'client_assertion'
        : 'none';
  const client = ctx.oidc?.client;
  const detail = cut(e.error_detail);
  const reason: ClientAuthFailureReason =
    detail === 'client not found'
      ? 'unknown_client'
      : detail?.startsWith('the provided authentication mechanism does not match')
        ? 'method_not_allowed'
        : detail === 'invalid secret provided'
          ? 'wrong_secret'
          : detail?.includes('client secret is expired')
            ? 'secret_expired'
            : presented === 'client_assertion'
              ? 'bad_assertion'
              : 'other';
  return {
    reason,
    clientId: client?.clientId ?? cut(params.client_id) ?? basicClientId(authorization),
    presented,
    ...(client ? { registered: client.clientAuthMethod } : {}),
    endpoint: ctx.oidc?.route,
    detail,
  };
}

/**
 * Calls `onFailure` for every failed client authentication at any endpoint where clients
 * authenticate: the one place where a log line (and an audit event) about it belongs.
 */
export function observeClientAuthFailures(
  provider: Provider,
  onFailure: (failure: ClientAuthFailure, ctx: KoaContextWithOIDC) => void,
): void {
  // The typings overload `on` per event name; every one of these passes (ctx, error).
  const on = provider.on.bind(provider) as (
    event: string,
    listener: (ctx: KoaContextWithOIDC, err: unknown) => void,
  ) => unknown;
  for (const event of EVENTS) {
    on(event, (ctx, err) => {
      const failure = explainClientAuthFailure(ctx, err);
      if (failure) onFailure(failure, ctx);
    });
  }
}
