import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auth } from '@modelcontextprotocol/sdk/client/auth.js';
import * as client from 'openid-client';
import { createRemoteJWKSet, decodeJwt, jwtVerify } from 'jose';
import { databaseKinds } from '../helpers/databases.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { TestOAuthProvider, startResourceMetadata } from '../helpers/sdk.ts';
import { AGENT_REDIRECT, RESOURCE, registerAgent, userToken } from '../helpers/agents.ts';
import { HttpBrowser } from '../helpers/browser.ts';
import { completeAuthorization } from '../helpers/flows.ts';
import { TestClock } from '../helpers/clock.ts';

const STEP_UP = 'mcp:tools:read mcp:resources:read mcp:deploy:staging';

describe.each(databaseKinds())(
  'interactive step-up in the authorization code flow (%s)',
  (kind) => {
    let t: TestServer;
    let prm: Awaited<ReturnType<typeof startResourceMetadata>>;
    beforeAll(async () => {
      t = await startTestServer(kind, { CIBA_POLL_INTERVAL: '1' });
      prm = await startResourceMetadata(RESOURCE, t.url);
      await t.server.users.create({
        email: 'dev@example.com',
        password: 'dev password',
        roles: ['developer'],
      });
      await t.server.users.create({
        email: 'viewer@example.com',
        password: 'viewer password',
        roles: ['viewer'],
      });
      await t.server.users.create({
        email: 'senior@example.com',
        password: 'senior password',
        roles: ['senior_developer'],
      });
      await t.server.users.create({
        email: 'lead@example.com',
        password: 'lead password',
        roles: ['viewer'],
        groups: ['sre-oncall'],
      });
    });
    afterAll(async () => {
      prm?.close();
      await t?.close();
    });

    it('gives a developer using the MCP SDK base + staging scopes for 3600 s', async () => {
      const provider = new TestOAuthProvider({
        email: 'dev@example.com',
        password: 'dev password',
        justification: 'release 1.4',
      });
      expect(
        await auth(provider, { serverUrl: RESOURCE, resourceMetadataUrl: prm.url, scope: STEP_UP }),
      ).toBe('REDIRECT');
      const code = provider.callback!.searchParams.get('code')!;
      expect(code).toBeTruthy();
      expect(
        await auth(provider, {
          serverUrl: RESOURCE,
          resourceMetadataUrl: prm.url,
          authorizationCode: code,
          scope: STEP_UP,
        }),
      ).toBe('AUTHORIZED');
      const claims = decodeJwt(provider.saved!.access_token);
      expect(String(claims.scope).split(' ').sort()).toEqual([
        'mcp:deploy:staging',
        'mcp:resources:read',
        'mcp:tools:read',
      ]);
      expect(claims.exp! - claims.iat!).toBe(3600);
      expect(claims.elevation).toEqual(expect.any(String));
    });

    it('refuses a viewer with access_denied naming the developer role', async () => {
      const provider = new TestOAuthProvider({
        email: 'viewer@example.com',
        password: 'viewer password',
      });
      expect(
        await auth(provider, { serverUrl: RESOURCE, resourceMetadataUrl: prm.url, scope: STEP_UP }),
      ).toBe('REDIRECT');
      expect(provider.callback!.searchParams.get('error')).toBe('access_denied');
      expect(provider.callback!.searchParams.get('error_description')).toContain('developer');
    });

    it('holds an approval-gated request on a self-refreshing page until an approver decides', async () => {
      const agent = await registerAgent(t, 'ide-agent');
      const verifier = client.randomPKCECodeVerifier();
      const url = client.buildAuthorizationUrl(agent, {
        redirect_uri: AGENT_REDIRECT,
        resource: RESOURCE,
        scope: 'mcp:tools:read mcp:deploy:production',
        code_challenge: await client.calculatePKCECodeChallenge(verifier),
        code_challenge_method: 'S256',
      });
      const browser = new HttpBrowser();
      let waitingUrl = '';
      const flow = completeAuthorization({
        authorizationUrl: url.href,
        redirectUri: AGENT_REDIRECT,
        email: 'senior@example.com',
        password: 'senior password',
        browser,
        onWaiting: (u) => {
          waitingUrl = u;
        },
      });
      // Let the flow reach the waiting page, then approve as the on-call approver.
      for (let i = 0; i < 600 && !waitingUrl; i++) await new Promise((r) => setTimeout(r, 50));
      const ticket = await t.server.db.db
        .selectFrom('elevation_ticket')
        .selectAll()
        .where('client_id', '=', 'ide-agent')
        .executeTakeFirst();
      expect(ticket?.status).toBe('pending');
      const page = await (await browser.request(`${t.url}/interaction/${ticket!.ref}/wait`)).text();
      expect(page).toMatch(/http-equiv="refresh"/);
      expect(page).toContain('Waiting for approval');
      const lead = (await t.server.users.findCredentials('lead@example.com'))!;
      await t.server.elevation.decide(ticket!.id, lead.id, 'approve');
      const callback = await flow;
      expect(waitingUrl).toContain('/wait');
      const tokens = await client.authorizationCodeGrant(
        agent,
        callback,
        { pkceCodeVerifier: verifier },
        { resource: RESOURCE },
      );
      const { payload } = await jwtVerify(
        tokens.access_token,
        createRemoteJWKSet(new URL(`${t.url}/jwks`)),
        { issuer: t.url, audience: RESOURCE },
      );
      expect(payload.exp! - payload.iat!).toBe(1800);
      expect(String(payload.scope).split(' ')).toContain('mcp:deploy:production');
    });

    it('after revocation, a refresh yields base scopes only and the feed lists the elevation', async () => {
      const agent = await registerAgent(t, 'refresh-agent');
      const tokens = await userToken(
        agent,
        'dev@example.com',
        'dev password',
        'openid offline_access mcp:tools:read mcp:deploy:staging',
      );
      const first = decodeJwt(tokens.access_token);
      expect(String(first.scope).split(' ')).toContain('mcp:deploy:staging');
      const elevationId = String(first.elevation);
      // The requester drops the elevation with their own token.
      const dropped = await fetch(`${t.url}/elevation/v1/elevations/${elevationId}`, {
        method: 'DELETE',
        headers: { authorization: `Bearer ${tokens.access_token}` },
      });
      expect(dropped.status).toBe(204);
      const refreshed = await client.refreshTokenGrant(agent, tokens.refresh_token!, {
        resource: RESOURCE,
      });
      const claims = decodeJwt(refreshed.access_token);
      expect(String(claims.scope).split(' ').sort()).toEqual([
        'mcp:resources:read',
        'mcp:tools:read',
      ]);
      expect(claims.elevation).toBeUndefined();
      const feed = await fetch(`${t.url}/elevation/v1/revocations?since=0`);
      const { payload } = await jwtVerify(
        await feed.text(),
        createRemoteJWKSet(new URL(`${t.url}/jwks`)),
        { issuer: t.url, typ: 'revocations+jwt' },
      );
      expect((payload.revoked as Array<{ elevation: string }>).map((r) => r.elevation)).toContain(
        elevationId,
      );
    });
  },
);

describe.each(databaseKinds())('approval-gated scopes need a recent sign-in (%s)', (kind) => {
  const clock = new TestClock();
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer(kind, {}, undefined, { currentDate: clock.currentDate });
    await t.server.users.create({
      email: 'senior@example.com',
      password: 'senior password',
      roles: ['senior_developer'],
    });
  });
  afterAll(async () => t?.close());

  it('asks a user who signed in more than 5 minutes ago to sign in again', async () => {
    const agent = await registerAgent(t, 'fresh-agent');
    const browser = new HttpBrowser();
    // A first flow signs the user in (base scopes only).
    const base = client.buildAuthorizationUrl(agent, {
      redirect_uri: AGENT_REDIRECT,
      resource: RESOURCE,
      scope: 'mcp:tools:read',
      code_challenge: 'a'.repeat(43),
      code_challenge_method: 'S256',
    });
    await completeAuthorization({
      authorizationUrl: base.href,
      redirectUri: AGENT_REDIRECT,
      email: 'senior@example.com',
      password: 'senior password',
      browser,
    });
    // Ten minutes pass on the server's clock (oidc-provider's session keeps its real sign-in time).
    clock.advance(600);
    const gated = client.buildAuthorizationUrl(agent, {
      redirect_uri: AGENT_REDIRECT,
      resource: RESOURCE,
      scope: 'mcp:tools:read mcp:deploy:production',
      code_challenge: 'a'.repeat(43),
      code_challenge_method: 'S256',
    });
    const step = await browser.follow(gated.href, AGENT_REDIRECT);
    const html = await step.res.text();
    expect(html).toContain('name="password"');
    expect(html).toContain('needs a sign-in from the last 5 minutes');
    // Whereas a recent sign-in goes straight to consent.
    clock.reset();
    const fresh = new HttpBrowser();
    await completeAuthorization({
      authorizationUrl: base.href,
      redirectUri: AGENT_REDIRECT,
      email: 'senior@example.com',
      password: 'senior password',
      browser: fresh,
    });
    const again = await fresh.follow(gated.href, AGENT_REDIRECT);
    expect(await again.res.text()).toContain('Justification');
  });
});
