import { once } from 'node:events';
import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair } from 'jose';
import Provider from 'oidc-provider';

/** A person at the upstream identity provider; change fields between sign-ins. */
export interface UpstreamAccount {
  email: string;
  email_verified: boolean;
  name: string;
  groups: string[];
}

/** A real OpenID Provider (a second oidc-provider) on loopback, standing in for Okta or Entra ID. */
export interface UpstreamIdp {
  /** Its issuer, `http://127.0.0.1:<port>`. */
  issuer: string;
  clientId: string;
  clientSecret: string;
  /** Its people by `sub`; edit them between sign-ins. */
  accounts: Map<string, UpstreamAccount>;
  /** Who the next sign-in at the upstream is (its login page signs this `sub` in at once). */
  signInAs: string;
  close(): Promise<void>;
}

/**
 * Starts the upstream for a relying party with these redirect URIs (the server's
 * `/federation/<id>/callback`). Its login and consent pages answer at once for {@link UpstreamIdp.signInAs}
 * (no form), releasing `email`, `email_verified`, `name` and `groups` (scope `groups`). Its
 * cookies have names of their own, so one cookie jar can hold both servers' cookies on 127.0.0.1.
 */
export async function startUpstreamIdp(redirectUris: string[]): Promise<UpstreamIdp> {
  const accounts = new Map<string, UpstreamAccount>();
  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  const jwk = { ...(await exportJWK(privateKey)), kid: 'upstream-key', alg: 'RS256', use: 'sig' };
  const clientId = 'mcp-elevate';
  const clientSecret = 'upstream-client-secret-value';
  const state = { signInAs: '' };
  // The issuer needs the port, so the server listens before the provider exists.
  const ref: { provider?: Provider } = {};
  const http: HttpServer = createServer((req, res) => ref.provider!.callback()(req, res));
  http.listen(0, '127.0.0.1');
  await once(http, 'listening');
  const issuer = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: clientId,
        client_secret: clientSecret,
        redirect_uris: redirectUris,
        grant_types: ['authorization_code'],
        response_types: ['code'],
      },
    ],
    jwks: { keys: [jwk] },
    cookies: {
      keys: ['upstream cookie key'],
      names: { session: '_idp_session', interaction: '_idp_interaction', resume: '_idp_resume' },
    },
    claims: {
      openid: ['sub'],
      email: ['email', 'email_verified'],
      profile: ['name'],
      groups: ['groups'],
    },
    scopes: ['openid', 'email', 'profile', 'groups'],
    features: { devInteractions: { enabled: false } },
    ttl: { Interaction: 600, Session: 3600, Grant: 3600, AccessToken: 600, IdToken: 600 },
    async findAccount(_ctx, sub) {
      const account = accounts.get(sub);
      if (!account) return undefined;
      return { accountId: sub, claims: () => ({ sub, ...account }) };
    },
  });
  ref.provider = provider;
  // The upstream's "login page": signs `signInAs` in and consents to everything asked.
  provider.use(async (ctx, next) => {
    const m = /^\/interaction\/([\w-]+)$/.exec(ctx.path);
    if (!m) return next();
    const details = await provider.interactionDetails(ctx.req, ctx.res);
    if (details.prompt.name === 'login') {
      await provider.interactionFinished(
        ctx.req,
        ctx.res,
        { login: { accountId: state.signInAs } },
        { mergeWithLastSubmission: false },
      );
      return;
    }
    const grant = new provider.Grant({
      accountId: details.session!.accountId,
      clientId: String(details.params.client_id),
    });
    grant.addOIDCScope(String(details.params.scope));
    const grantId = await grant.save();
    await provider.interactionFinished(
      ctx.req,
      ctx.res,
      { consent: { grantId } },
      { mergeWithLastSubmission: true },
    );
  });
  return {
    issuer,
    clientId,
    clientSecret,
    accounts,
    get signInAs() {
      return state.signInAs;
    },
    set signInAs(sub: string) {
      state.signInAs = sub;
    },
    async close() {
      http.closeAllConnections();
      await new Promise((resolve) => http.close(resolve));
    },
  };
}
