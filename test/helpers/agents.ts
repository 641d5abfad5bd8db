import * as client from 'openid-client';
import type { TestServer } from './server.ts';
import { completeAuthorization } from './flows.ts';
import { registerClient } from '../../src/oidc/clients.ts';

export const RESOURCE = 'http://localhost:4000/mcp';
export const AGENT_REDIRECT = 'http://127.0.0.1:9/agent-callback';
export const CIBA = 'urn:openid:params:grant-type:ciba';

/** Registers a confidential agent that can sign users in and elevate over CIBA, and returns its openid-client configuration. */
export async function registerAgent(
  t: TestServer,
  id = 'agent',
  roles: string[] = [],
): Promise<client.Configuration> {
  await registerClient(t.server.provider, t.server.db.db, {
    id,
    secret: `${id}-secret-value`,
    redirectUris: [AGENT_REDIRECT],
    roles,
    grantTypes: ['authorization_code', 'refresh_token', 'client_credentials', CIBA],
  });
  return client.discovery(
    new URL(t.url),
    id,
    undefined,
    client.ClientSecretBasic(`${id}-secret-value`),
    { execute: [client.allowInsecureRequests] },
  );
}

/** The user's base access token for the MCP resource, obtained by the agent through the login and consent pages. */
export async function userToken(
  config: client.Configuration,
  email: string,
  password: string,
  scope = 'openid mcp:tools:read offline_access',
): Promise<client.TokenEndpointResponse> {
  const verifier = client.randomPKCECodeVerifier();
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: AGENT_REDIRECT,
    resource: RESOURCE,
    scope,
    prompt: 'consent',
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
  });
  const callback = await completeAuthorization({
    authorizationUrl: url.href,
    redirectUri: AGENT_REDIRECT,
    email,
    password,
  });
  if (callback.searchParams.get('error'))
    throw Object.assign(new Error(callback.searchParams.get('error_description') ?? 'denied'), {
      callback,
    });
  return client.authorizationCodeGrant(
    config,
    callback,
    { pkceCodeVerifier: verifier },
    { resource: RESOURCE },
  );
}

/** Starts a CIBA elevation for the user behind `loginHintToken`. */
export function requestElevation(
  config: client.Configuration,
  loginHintToken: string,
  scope: string,
  justification = 'deploying the fix for INC-42',
) {
  return client.initiateBackchannelAuthentication(config, {
    scope: `openid ${scope}`,
    login_hint_token: loginHintToken,
    binding_message: justification,
    resource: RESOURCE,
  });
}
