/**
 * The client side of the benchmarks: plain `fetch` (undici, keep-alive by default) against the
 * token and backchannel endpoints, so that the client costs as little as possible and every
 * request is visible. User tokens come through the real login and consent pages, driven by the
 * test helpers (openid-client + an HTTP "browser").
 */
import * as client from 'openid-client';
import { AGENT_REDIRECT, CIBA, userToken } from '../../test/helpers/agents.ts';

export { AGENT_REDIRECT, CIBA };

/** The resource of scopes.json: the example MCP server. */
export const RESOURCE = 'http://localhost:4000/mcp';

/** Endpoints of the authorization server, from its metadata. */
export interface Endpoints {
  issuer: string;
  token: string;
  backchannel: string;
  jwks: string;
}

export interface ClientCredentials {
  id: string;
  secret: string;
}

export async function discover(issuer: string): Promise<Endpoints> {
  const res = await fetch(`${issuer}/.well-known/openid-configuration`);
  if (!res.ok) throw new Error(`discovery: HTTP ${res.status}`);
  const m = (await res.json()) as Record<string, string>;
  return {
    issuer: m.issuer,
    token: m.token_endpoint,
    backchannel: m.backchannel_authentication_endpoint,
    jwks: m.jwks_uri,
  };
}

export const basicAuth = (c: ClientCredentials) =>
  `Basic ${Buffer.from(`${encodeURIComponent(c.id)}:${encodeURIComponent(c.secret)}`).toString('base64')}`;

/** POSTs a form with client_secret_basic; resolves the JSON of a 200, rejects with the OAuth error otherwise. */
async function postForm(
  url: string,
  c: ClientCredentials,
  form: Record<string, string>,
  what: string,
): Promise<Record<string, unknown>> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basicAuth(c) },
    body: new URLSearchParams(form).toString(),
  });
  const body = (await res.json().catch(() => ({}))) as Record<string, unknown>;
  if (res.status !== 200)
    throw new Error(
      `${what}: HTTP ${res.status} ${String(body.error ?? '')} ${String(body.error_description ?? '')}`.trim(),
    );
  return body;
}

/** A client_credentials access token for `resource`. */
export async function clientCredentials(
  e: Endpoints,
  c: ClientCredentials,
  resource = RESOURCE,
): Promise<string> {
  const body = await postForm(
    e.token,
    c,
    { grant_type: 'client_credentials', resource },
    'client_credentials',
  );
  if (typeof body.access_token !== 'string') throw new Error('client_credentials: no access_token');
  return body.access_token;
}

/** Opens a CIBA request (poll mode) for the user behind `loginHintToken`; resolves its auth_req_id. */
export async function backchannel(
  e: Endpoints,
  c: ClientCredentials,
  loginHintToken: string,
  scope: string,
  justification: string,
  resource = RESOURCE,
): Promise<string> {
  const body = await postForm(
    e.backchannel,
    c,
    {
      scope: `openid ${scope}`,
      login_hint_token: loginHintToken,
      binding_message: justification,
      resource,
    },
    'backchannel',
  );
  if (typeof body.auth_req_id !== 'string') throw new Error('backchannel: no auth_req_id');
  return body.auth_req_id;
}

/** One CIBA poll; resolves the elevated access token (rejects with e.g. `authorization_pending`). */
export async function poll(
  e: Endpoints,
  c: ClientCredentials,
  authReqId: string,
  resource = RESOURCE,
): Promise<string> {
  const body = await postForm(
    e.token,
    c,
    { grant_type: CIBA, auth_req_id: authReqId, resource },
    'ciba poll',
  );
  if (typeof body.access_token !== 'string') throw new Error('ciba poll: no access_token');
  return body.access_token;
}

/**
 * An elevation that needs no approval, as an agent does it: the CIBA request, then the first poll,
 * which returns the elevated token at once.
 */
export async function elevate(
  e: Endpoints,
  c: ClientCredentials,
  loginHintToken: string,
  scope: string,
  justification: string,
): Promise<string> {
  const authReqId = await backchannel(e, c, loginHintToken, scope, justification);
  return poll(e, c, authReqId);
}

/**
 * The user's base access token for the MCP resource, obtained by the agent through the real
 * login and consent pages (authorization code + PKCE). The agent must be registered with
 * {@link AGENT_REDIRECT} as redirect URI.
 */
export async function loginUser(
  issuer: string,
  agent: ClientCredentials,
  email: string,
  password: string,
): Promise<string> {
  const config = await client.discovery(
    new URL(issuer),
    agent.id,
    undefined,
    client.ClientSecretBasic(agent.secret),
    { execute: [client.allowInsecureRequests] },
  );
  return (await userToken(config, email, password)).access_token;
}

/** Registration input of an agent that signs users in and elevates over CIBA (see auth-server.ts). */
export function agentClient(c: ClientCredentials, roles: string[] = []) {
  return {
    id: c.id,
    secret: c.secret,
    redirectUris: [AGENT_REDIRECT],
    roles,
    grantTypes: ['authorization_code', 'refresh_token', 'client_credentials', CIBA],
  };
}
