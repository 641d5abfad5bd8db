import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as client from 'openid-client';
import { decodeJwt } from 'jose';
import { databaseKinds } from '../helpers/databases.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { completeAuthorization } from '../helpers/flows.ts';
import { registerClient } from '../../src/oidc/clients.ts';

// Each test is one row of the README's table "Scope and resource in an authorization request".
const RESOURCE = 'http://localhost:4000/mcp';
const REDIRECT = 'http://127.0.0.1:9/callback';
const BASE = ['mcp:resources:read', 'mcp:tools:read'];

describe.each(databaseKinds())(
  'scope and resource combinations of an authorization request (%s)',
  (kind) => {
    let t: TestServer;
    let config: client.Configuration;

    beforeAll(async () => {
      t = await startTestServer(kind);
      await t.server.users.create({
        email: 'dev@example.com',
        password: 'correct horse',
        roles: ['developer'],
      });
      await t.server.users.create({
        email: 'viewer@example.com',
        password: 'correct horse',
        roles: ['viewer'],
      });
      await registerClient(t.server.provider, t.server.db.db, {
        id: 'ide',
        redirectUris: [REDIRECT],
        grantTypes: ['authorization_code', 'refresh_token'],
      });
      config = await client.discovery(new URL(t.url), 'ide', undefined, client.None(), {
        execute: [client.allowInsecureRequests],
      });
    });
    afterAll(async () => t?.close());

    /** Runs /auth → login → consent → /token; `resource` undefined leaves the parameter out. */
    async function flow(
      params: Record<string, string | string[]>,
      opts: { email?: string; exchange?: boolean } = {},
    ) {
      const verifier = client.randomPKCECodeVerifier();
      const url = new URL(
        client.buildAuthorizationUrl(config, {
          redirect_uri: REDIRECT,
          code_challenge: await client.calculatePKCECodeChallenge(verifier),
          code_challenge_method: 'S256',
        }),
      );
      for (const [k, v] of Object.entries(params))
        for (const one of ([] as string[]).concat(v)) url.searchParams.append(k, one);
      const pages: Array<{ kind: string; html: string }> = [];
      const callback = await completeAuthorization({
        authorizationUrl: url.href,
        redirectUri: REDIRECT,
        email: opts.email ?? 'dev@example.com',
        password: 'correct horse',
        justification: 'matrix test',
        onPage: (kind, html) => pages.push({ kind, html }),
      });
      const error = callback.searchParams.get('error');
      if (error || opts.exchange === false)
        return { pages, error, description: callback.searchParams.get('error_description') };
      const resource = typeof params.resource === 'string' ? params.resource : undefined;
      const tokens = await client.authorizationCodeGrant(
        config,
        callback,
        { pkceCodeVerifier: verifier },
        resource ? { resource } : undefined,
      );
      return {
        pages,
        error,
        tokens,
        claims: resource ? decodeJwt(tokens.access_token) : undefined,
      };
    }
    const sorted = (scope: unknown) => String(scope).split(' ').sort();
    const consentScopes = (html: string) =>
      [...html.matchAll(/<td><code>([^<]+)<\/code><\/td>/g)].map((m) => m[1]).sort();

    it('no scope with a resource: the base scopes of that resource, through the consent page', async () => {
      const r = await flow({ resource: RESOURCE });
      expect(r.pages.map((p) => p.kind)).toEqual(['login', 'consent']);
      expect(consentScopes(r.pages[1]!.html)).toEqual(BASE);
      expect(r.claims!.aud).toBe(RESOURCE);
      expect(sorted(r.claims!.scope)).toEqual(BASE);
      expect(sorted(r.tokens!.scope)).toEqual(BASE);
      expect(r.tokens!.refresh_token).toBeUndefined();
    });

    it('no scope and no resource: invalid_target before anyone signs in', async () => {
      const r = await flow({});
      expect(r.pages).toEqual([]);
      expect(r.error).toBe('invalid_target');
      expect(r.description).toMatch(/resource parameter is required/);
    });

    it('openid only with a resource: an ID token and a token for the resource with the base scopes', async () => {
      const r = await flow({ scope: 'openid', resource: RESOURCE });
      expect(r.tokens!.id_token).toBeTruthy();
      expect(r.claims!.aud).toBe(RESOURCE);
      expect(sorted(r.claims!.scope)).toEqual(BASE);
    });

    it('openid only without a resource: a sign-in with an ID token and no MCP scope', async () => {
      const r = await flow({ scope: 'openid' });
      expect(r.pages.map((p) => p.kind)).toEqual(['login', 'consent']);
      expect(r.tokens!.id_token).toBeTruthy();
      expect(r.tokens!.scope).toBe('openid');
    });

    it('offline_access only with a resource and prompt=consent: the base scopes and a refresh token', async () => {
      const r = await flow({ scope: 'offline_access', resource: RESOURCE, prompt: 'consent' });
      expect(r.pages[1]!.html).toMatch(/A <strong>refresh token<\/strong> will be issued/);
      expect(sorted(r.claims!.scope)).toEqual(BASE);
      expect(r.tokens!.refresh_token).toBeTruthy();
    });

    it('offline_access without prompt=consent is dropped: the base scopes and no refresh token', async () => {
      const r = await flow({ scope: 'offline_access', resource: RESOURCE });
      expect(r.pages[1]!.html).toContain('No refresh token will be issued');
      expect(sorted(r.claims!.scope)).toEqual(BASE);
      expect(r.tokens!.refresh_token).toBeUndefined();
    });

    it('offline_access only without a resource: invalid_target before anyone signs in', async () => {
      const r = await flow({ scope: 'offline_access', prompt: 'consent' });
      expect(r.pages).toEqual([]);
      expect(r.error).toBe('invalid_target');
    });

    it('a catalogue scope without a resource: invalid_target before anyone signs in', async () => {
      const r = await flow({ scope: 'openid mcp:tools:read' });
      expect(r.pages).toEqual([]);
      expect(r.error).toBe('invalid_target');
    });

    it('unknown names mixed with known ones are ignored, as are scopes of another resource', async () => {
      const r = await flow({ scope: 'mcp:tools:read no:such:scope mcp:admin', resource: RESOURCE });
      expect(consentScopes(r.pages[1]!.html)).toEqual(BASE);
      expect(sorted(r.claims!.scope)).toEqual(BASE);
      expect(sorted(r.tokens!.scope)).toEqual(BASE);
    });

    it('duplicate scope names count once', async () => {
      const r = await flow({
        scope: 'mcp:tools:read mcp:tools:read mcp:deploy:staging mcp:deploy:staging',
        resource: RESOURCE,
      });
      expect(sorted(r.claims!.scope)).toEqual([...BASE, 'mcp:deploy:staging'].sort());
    });

    it('elevated scopes only: the base scopes plus the elevation, after a justified consent', async () => {
      const r = await flow({ scope: 'mcp:deploy:staging', resource: RESOURCE });
      expect(r.pages[1]!.html).toContain('name="justification"');
      expect(consentScopes(r.pages[1]!.html)).toEqual([...BASE, 'mcp:deploy:staging'].sort());
      expect(sorted(r.claims!.scope)).toEqual([...BASE, 'mcp:deploy:staging'].sort());
      expect(r.claims!.elevation).toBeTruthy();
    });

    it('elevated scopes only for a user without the role: access_denied naming the role, no consent page', async () => {
      const r = await flow(
        { scope: 'mcp:deploy:staging', resource: RESOURCE },
        { email: 'viewer@example.com' },
      );
      expect(r.pages.map((p) => p.kind)).toEqual(['login']);
      expect(r.error).toBe('access_denied');
      expect(r.description).toMatch(/developer/);
    });

    it('two different resources: invalid_target before anyone signs in', async () => {
      const r = await flow({ scope: 'mcp:tools:read', resource: [RESOURCE, `${t.url}/admin`] });
      expect(r.pages).toEqual([]);
      expect(r.error).toBe('invalid_target');
    });

    it('the same resource twice counts once', async () => {
      const r = await flow({ resource: [RESOURCE, RESOURCE] }, { exchange: false });
      expect(r.error).toBeNull();
      expect(r.pages.map((p) => p.kind)).toEqual(['login', 'consent']);
    });

    it('an unknown resource: invalid_target before anyone signs in', async () => {
      const r = await flow({ resource: 'http://evil.example/mcp' });
      expect(r.pages).toEqual([]);
      expect(r.error).toBe('invalid_target');
    });
  },
);
