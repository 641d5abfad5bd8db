import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import * as client from 'openid-client';
import { importJWK, SignJWT, type JWTPayload } from 'jose';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { completeAuthorization } from '../helpers/flows.ts';
import { registerClient } from '../../src/oidc/clients.ts';
import { adminResource } from '../../src/oidc/provider.ts';
import { loadSigningKeys } from '../../src/keys/keystore.ts';

/** Redirect URI of the test's admin client (nothing listens there: the flow stops at the redirect). */
export const REDIRECT = 'http://127.0.0.1:9/callback';
/** The example MCP server's resource in the default catalogue. */
export const MCP_RESOURCE = 'http://localhost:4000/mcp';
export const ADMIN = { email: 'admin@example.com', password: 'admin password 1' };

/** A test server with an admin account and a public client to get tokens with. */
export interface AdminFixture {
  t: TestServer;
  /** The admin's user id. */
  adminId: string;
  /** Admin API base URL (`<issuer>/admin/v1`). */
  base: string;
  /** An access token from the real login and consent pages (authorization code + PKCE). */
  token(opts?: {
    email?: string;
    password?: string;
    scope?: string;
    resource?: string;
  }): Promise<string>;
  /** A token signed with the server's own current key, with the given claims over admin defaults. */
  forge(claims: JWTPayload, header?: { typ?: string }): Promise<string>;
  /** Calls the admin API; `json` is sent as an application/json body. */
  api(
    method: string,
    path: string,
    opts?: {
      token?: string;
      json?: unknown;
      headers?: Record<string, string>;
      body?: RequestInit['body'];
    },
  ): Promise<Response>;
  close(): Promise<void>;
}

/**
 * Starts a server whose catalogue is the default one except that `mcp:admin` needs no approval:
 * these tests are about the admin API, not about approval tickets (tested with elevation), so
 * tokens come straight from login and consent.
 */
export async function startAdminFixture(
  kind: 'pglite' | 'postgres',
  env: Record<string, string> = {},
): Promise<AdminFixture> {
  const catalogue = JSON.parse(await readFile('scopes.json', 'utf8')) as {
    scopes: Record<string, { approval?: unknown }>;
  };
  delete catalogue.scopes['mcp:admin']!.approval;
  const scopesFile = join(process.env.TMPDIR ?? '/tmp', `mcpe-admin-scopes-${randomUUID()}.json`);
  await writeFile(scopesFile, JSON.stringify(catalogue));
  const t = await startTestServer(kind, { SCOPES_FILE: scopesFile, ...env });
  const admin = await t.server.users.create({ ...ADMIN, name: 'Admin', roles: ['admin'] });
  await registerClient(t.server.provider, t.server.db.db, {
    id: 'admin-cli',
    redirectUris: [REDIRECT],
    grantTypes: ['authorization_code'],
  });
  const config = await client.discovery(new URL(t.url), 'admin-cli', undefined, client.None(), {
    execute: [client.allowInsecureRequests],
  });
  const base = `${t.url}/admin/v1`;
  const audience = adminResource(t.url);

  return {
    t,
    base,
    adminId: admin.id,
    async token(opts = {}) {
      const resource = opts.resource ?? audience;
      const verifier = client.randomPKCECodeVerifier();
      const url = client.buildAuthorizationUrl(config, {
        redirect_uri: REDIRECT,
        resource,
        scope: opts.scope ?? 'mcp:admin',
        code_challenge: await client.calculatePKCECodeChallenge(verifier),
        code_challenge_method: 'S256',
      });
      const callback = await completeAuthorization({
        authorizationUrl: url.href,
        redirectUri: REDIRECT,
        email: opts.email ?? ADMIN.email,
        password: opts.password ?? ADMIN.password,
        justification: 'admin API test',
      });
      const tokens = await client.authorizationCodeGrant(
        config,
        callback,
        { pkceCodeVerifier: verifier },
        { resource },
      );
      return tokens.access_token;
    },
    async forge(claims, header = {}) {
      const [jwk] = await loadSigningKeys(t.server.db.db);
      const now = Math.floor(Date.now() / 1000);
      const payload = {
        iss: t.url,
        aud: audience,
        iat: now - 60,
        exp: now + 600,
        jti: randomUUID(),
        scope: 'mcp:admin',
        client_id: 'admin-cli',
        sub: admin.id,
        ...claims,
      };
      return new SignJWT(payload)
        .setProtectedHeader({ alg: 'ES256', typ: header.typ ?? 'at+jwt', kid: jwk!.kid })
        .sign(await importJWK(jwk!, 'ES256'));
    },
    api(method, path, opts = {}) {
      const headers: Record<string, string> = {
        ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}),
        ...opts.headers,
      };
      let body = opts.body;
      if (opts.json !== undefined) {
        headers['content-type'] ??= 'application/json';
        body = JSON.stringify(opts.json);
      }
      return fetch(`${base}${path}`, { method, headers, body });
    },
    async close() {
      await t.close();
      await rm(scopesFile, { force: true });
    },
  };
}

/** A problem+json response's body, after checking that it is one. */
export async function problem(res: Response): Promise<{
  status: number;
  code: string;
  detail: string;
  errors?: Array<{ path: string; message: string }>;
  [k: string]: unknown;
}> {
  if (!res.headers.get('content-type')?.startsWith('application/problem+json')) {
    throw new Error(
      `expected problem+json, got ${res.status} ${res.headers.get('content-type')}: ${(await res.text()).slice(0, 200)}`,
    );
  }
  return res.json() as never;
}
