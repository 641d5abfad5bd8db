import * as client from 'openid-client';
import { registerClient } from '../../src/oidc/clients.ts';
import { AGENT_REDIRECT, CIBA, requestElevation, userToken } from '../helpers/agents.ts';
import { pollDecided } from '../helpers/ciba.ts';
import { hiddenField, type HttpBrowser } from '../helpers/browser.ts';
import type { TestServer } from '../helpers/server.ts';
import { PASSWORD, PRODUCTION, startWithCast, type Cast } from '../approvals/fixture.ts';

export { PASSWORD, PRODUCTION } from '../approvals/fixture.ts';

/** The agent's display name: markup that must show as text. */
export const AGENT_NAME = '<script>alert("agent")</script> Deploy bot';
/** A justification that would run script if it were not escaped. */
export const XSS = '<script>alert(1)</script><img src=x onerror=alert(2)>';

/** An agent registered with a hostile name; returns its openid-client configuration. */
export async function registerNamedAgent(
  t: TestServer,
  id = 'agent',
): Promise<client.Configuration> {
  await registerClient(t.server.provider, t.server.db.db, {
    id,
    name: AGENT_NAME,
    secret: `${id}-secret-value`,
    redirectUris: [AGENT_REDIRECT],
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

/** What one person of the account tests holds: their agent's tokens and what they asked for. */
export interface Holdings {
  tokens: client.TokenEndpointResponse;
  /** A live staging elevation, granted over CIBA and claimed by a token. */
  elevation: string;
  /** A pending production request with {@link XSS} as its justification. */
  pending: string;
  /** A production request the lead denied with a comment. */
  denied: string;
}

/** The cast of the approval tests plus the agent, with real flows behind every item. */
export interface AccountWorld extends Cast {
  agent: client.Configuration;
  dev: Holdings;
  other: Holdings;
}

/**
 * Starts a server where the requester (`dev@example.com`) and the outsider each authorized the
 * agent through the sign-in and consent pages, got a staging elevation over CIBA, have a pending
 * production request and a denied one.
 */
export async function startAccountWorld(kind: 'pglite' | 'postgres'): Promise<AccountWorld> {
  const cast = await startWithCast(kind);
  const agent = await registerNamedAgent(cast.t);
  const holdings = async (email: string): Promise<Holdings> => {
    const tokens = await userToken(agent, email, PASSWORD);
    const staging = await requestElevation(agent, tokens.access_token, 'mcp:deploy:staging');
    const elevated = await pollDecided(agent, staging);
    const elevation = JSON.parse(
      Buffer.from(elevated.access_token.split('.')[1]!, 'base64url').toString(),
    ).elevation as string;
    const ticket = async (justification: string) => {
      const started = await requestElevation(agent, tokens.access_token, PRODUCTION, justification);
      return (await cast.t.server.elevation.ticketByRef(started.auth_req_id))!.id;
    };
    const pending = await ticket(XSS);
    const denied = await ticket('Rollback of release 7');
    await cast.t.server.elevation.decide(denied, cast.lead, 'deny', 'Not during the <b>freeze</b>');
    return { tokens, elevation, pending, denied };
  };
  // Production requests need senior_developer; the outsider gets it too (and stays in no group).
  await cast.t.server.users.setRoles(cast.outsider, ['senior_developer']);
  return {
    ...cast,
    agent,
    dev: await holdings('dev@example.com'),
    other: await holdings('outsider@example.com'),
  };
}

/** The CSRF token on the account page of this HTTP session. */
export async function accountCsrf(b: HttpBrowser, t: TestServer): Promise<string> {
  const res = await b.request(`${t.url}/account`);
  if (res.status !== 200) throw new Error(`account page answered ${res.status}`);
  return hiddenField(await res.text(), 'csrf');
}

/** Posts a form of the account page over HTTP. */
export function postForm(
  b: HttpBrowser,
  url: string,
  fields: Record<string, string>,
): Promise<Response> {
  return b.request(url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(fields),
  });
}

export { screenshot } from '../helpers/screenshots.ts';

/** Whether the elevation is still standing (not revoked). */
export async function elevationRevoked(t: TestServer, id: string): Promise<boolean> {
  return !!(await t.server.elevation.findElevation(id))?.revoked_at;
}
