import type Provider from 'oidc-provider';
import type { KoaContextWithOIDC } from 'oidc-provider';
import { CLIENT_AUTH_FAILED, HINT_REFUSED, type SecurityEvents } from '../audit/security-events.ts';
import { refusedHintOf } from './ciba/hint-refusal.ts';
import { explainClientAuthFailure } from './client-auth-failures.ts';

const cut = (v: unknown) => (typeof v === 'string' ? v.slice(0, 200) : undefined);

/**
 * Feeds {@link SecurityEvents} from oidc-provider's events: every failed client authentication
 * at an endpoint where clients authenticate (token, introspection, revocation, PAR, CIBA), and
 * every CIBA request refused for its `login_hint_token`, `login_hint` or `id_token_hint` (an error
 * marked by `refuseHint`, whatever its wording).
 * Never the secret, the assertion or the hint itself.
 */
export function observeSecurityEvents(provider: Provider, events: SecurityEvents): void {
  const on = provider.on.bind(provider) as (
    event: string,
    listener: (ctx: KoaContextWithOIDC, err: unknown) => void,
  ) => unknown;
  const ip = (ctx: KoaContextWithOIDC) => cut(ctx.ip);
  for (const name of [
    'grant.error',
    'introspection.error',
    'revocation.error',
    'pushed_authorization_request.error',
    'backchannel_authentication.error',
  ]) {
    on(name, (ctx, err) => {
      const failure = explainClientAuthFailure(ctx, err);
      if (!failure) return;
      const { clientId, ...data } = failure;
      events.record(
        {
          action: CLIENT_AUTH_FAILED,
          result: 'failure',
          clientId: clientId ?? null,
          data: { ...data, ip: ip(ctx) },
        },
        failure.reason,
      );
    });
  }
  on('backchannel_authentication.error', (ctx, err) => {
    const e = err as { error?: string; error_description?: string };
    const hint = refusedHintOf(err);
    if (!hint) return;
    events.record(
      {
        action: HINT_REFUSED,
        result: 'denied',
        clientId: ctx.oidc?.client?.clientId ?? null,
        data: { hint, error: e.error, description: cut(e.error_description), ip: ip(ctx) },
      },
      `${hint}:${e.error}`,
    );
  });
}
