import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as client from 'openid-client';
import { createRemoteJWKSet, decodeJwt, jwtVerify } from 'jose';
import { databaseKinds } from '../helpers/databases.ts';
import { AGENT_REDIRECT, RESOURCE, registerAgent } from '../helpers/agents.ts';
import { hiddenField } from '../helpers/browser.ts';
import { completeAuthorization } from '../helpers/flows.ts';
import { openTicket } from '../approvals/fixture.ts';
import { startFederated, upstreamLink, webSignIn, type FederatedServer } from './fixture.ts';

const STAGING = 'mcp:deploy:staging';

/** An MCP client's authorization flow, signing in through Corp SSO; returns the tokens. */
async function authorizeThroughCorp(
  f: FederatedServer,
  agent: client.Configuration,
  scope: string,
) {
  const verifier = client.randomPKCECodeVerifier();
  const url = client.buildAuthorizationUrl(agent, {
    redirect_uri: AGENT_REDIRECT,
    resource: RESOURCE,
    scope,
    prompt: 'login consent',
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
  });
  const pages: string[] = [];
  const callback = await completeAuthorization({
    authorizationUrl: url.href,
    redirectUri: AGENT_REDIRECT,
    justification: 'release 2.0',
    onPage: (kind) => pages.push(kind),
    signIn: (html, at, browser) =>
      browser.follow(new URL(upstreamLink(html, 'Corp SSO'), at).href, AGENT_REDIRECT),
  });
  expect(pages[0]).toBe('login');
  if (callback.searchParams.get('error'))
    throw new Error(String(callback.searchParams.get('error_description')));
  return client.authorizationCodeGrant(
    agent,
    callback,
    { pkceCodeVerifier: verifier },
    { resource: RESOURCE },
  );
}

describe.each(databaseKinds())(
  'enterprise sign-in through an upstream OpenID Provider (%s)',
  (kind) => {
    let f: FederatedServer;
    let agent: client.Configuration;
    beforeAll(async () => {
      f = await startFederated(kind);
      agent = await registerAgent(f.t, 'ide-agent');
    }, 180_000);
    afterAll(async () => f?.close());

    // Audit appends are buffered: flushed first, so every event of the step just taken is there.
    const events = async (action: string) => {
      await f.t.server.audit.flush();
      return f.t.server.db.db
        .selectFrom('audit_event')
        .selectAll()
        .where('action', '=', action)
        .orderBy('seq')
        .execute();
    };

    it('signs an MCP client user in just in time, with roles from upstream groups, and steps up', async () => {
      f.idp.accounts.set('alice-sub', {
        email: 'Alice@Corp.Example',
        email_verified: true,
        name: 'Alice Anders',
        groups: ['engineering', 'unmapped'],
      });
      f.idp.signInAs = 'alice-sub';
      const tokens = await authorizeThroughCorp(f, agent, `mcp:tools:read ${STAGING}`);
      const claims = decodeJwt(tokens.access_token);
      expect(String(claims.scope).split(' ')).toContain(STAGING);
      expect(claims.elevation).toEqual(expect.any(String));

      const alice = (await f.t.server.users.findCredentials('alice@corp.example'))!;
      expect(alice).toMatchObject({ email: 'alice@corp.example', name: 'Alice Anders' });
      expect(claims.sub).toBe(alice.id);
      const user = (await f.t.server.users.findById(alice.id))!;
      expect(user.roles).toEqual(['developer']);
      expect(user.federatedRoles).toEqual(['developer']);
      const identity = await f.t.server.db.db
        .selectFrom('federated_identity')
        .selectAll()
        .where('user_id', '=', alice.id)
        .executeTakeFirstOrThrow();
      expect(identity).toMatchObject({
        issuer: f.idp.issuer,
        subject: 'alice-sub',
        upstream_id: 'corp',
      });
      const logins = await events('federation.login');
      expect(logins.at(-1)).toMatchObject({ result: 'success', actor: alice.id });
      expect(logins.at(-1)!.data).toMatchObject({ upstream: 'corp', arrival: 'created' });
      expect(JSON.stringify(logins)).not.toContain(tokens.access_token.slice(0, 40));
    });

    it('lets a federated approver sign in at /login and approve a ticket at /approvals', async () => {
      const requester = await f.t.server.users.create({
        email: 'requester@example.com',
        password: 'requester password',
        roles: ['senior_developer'],
      });
      const ticket = await openTicket(f.t, requester.id);
      f.idp.accounts.set('sam-sub', {
        email: 'sam@corp.example',
        email_verified: true,
        name: 'Sam Oncall',
        groups: ['sre'],
      });
      f.idp.signInAs = 'sam-sub';
      const { browser, url, res } = await webSignIn(f, `/approvals/${ticket.id}`);
      expect(url).toBe(`${f.t.url}/approvals/${ticket.id}`);
      const page = await res.text();
      expect(res.status).toBe(200);
      const decided = await browser.request(`${f.t.url}/approvals/${ticket.id}/decision`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ csrf: hiddenField(page, 'csrf'), decision: 'approve' }),
      });
      expect(decided.status).toBeLessThan(400);
      expect((await f.t.server.elevation.ticket(ticket.id))!.status).toBe('approved');
      const sam = (await f.t.server.users.findCredentials('sam@corp.example'))!;
      expect((await f.t.server.users.findById(sam.id))!.groups).toEqual(['sre-oncall']);
    });

    it('takes a role away at the next sign-in when the upstream group is gone, revoking the elevation it carried', async () => {
      f.idp.accounts.set('bob-sub', {
        email: 'bob@corp.example',
        email_verified: true,
        name: 'Bob',
        groups: ['engineering'],
      });
      f.idp.signInAs = 'bob-sub';
      const tokens = await authorizeThroughCorp(f, agent, `mcp:tools:read ${STAGING}`);
      const elevationId = String(decodeJwt(tokens.access_token).elevation);
      const bob = (await f.t.server.users.findCredentials('bob@corp.example'))!;
      // An administrator's own assignment survives every federated sign-in.
      await f.t.server.users.setGroups(bob.id, ['tech-lead']);

      f.idp.accounts.get('bob-sub')!.groups = [];
      await webSignIn(f);
      const after = (await f.t.server.users.findById(bob.id))!;
      expect(after.roles).toEqual([]);
      expect(after.groups).toEqual(['tech-lead']);
      expect((await f.t.server.elevation.findElevation(elevationId))!.revoked_at).not.toBeNull();

      const changed = (await events('federation.roles_changed')).filter(
        (e) => e.subject === bob.id,
      );
      expect(changed.at(-1)!.data).toEqual({
        upstream: 'corp',
        before: { roles: ['developer'], groups: ['tech-lead'] },
        after: { roles: [], groups: ['tech-lead'] },
      });
      // The token carrying it is refused, and verifiers learn of it from the revocation feed.
      const use = await fetch(`${f.t.url}/elevation/v1/elevations/${elevationId}`, {
        method: 'DELETE',
        headers: { authorization: `Bearer ${tokens.access_token}` },
      });
      expect(use.status).toBe(401);
      const feed = await fetch(`${f.t.url}/elevation/v1/revocations?since=0`);
      const { payload } = await jwtVerify(
        await feed.text(),
        createRemoteJWKSet(new URL(`${f.t.url}/jwks`)),
        { issuer: f.t.url, typ: 'revocations+jwt' },
      );
      expect((payload.revoked as Array<{ elevation: string }>).map((r) => r.elevation)).toContain(
        elevationId,
      );
    });
  },
);
