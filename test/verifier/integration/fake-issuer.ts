import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CompactSign, SignJWT } from 'jose';
import { DEFAULT_ROLES, type CatalogueInput, type RoleInput } from '../../../src/policy/index.ts';
import { makeKey, type TestKey } from '../token/fixtures.ts';

export const RESOURCE = 'http://localhost:4000/mcp';

/** A small catalogue in the shape of the shipped scopes.json. */
export const CATALOGUE: CatalogueInput = {
  baseScopes: ['mcp:tools:read'],
  resources: {
    [RESOURCE]: {
      name: 'Deploy tools',
      scopes: ['mcp:tools:read', 'mcp:deploy:staging', 'mcp:deploy:production'],
    },
  },
  scopes: {
    'mcp:tools:read': { description: 'read', grants: [{ resource: 'tool:list_*' }] },
    'mcp:deploy:staging': {
      description: 'staging',
      minRole: 'developer',
      expiresIn: 3600,
      grants: [
        {
          resource: 'tool:deploy_service',
          conditions: { environment: ['development', 'staging'] },
        },
      ],
    },
    'mcp:deploy:production': {
      description: 'production',
      minRole: 'senior_developer',
      expiresIn: 1800,
      grants: [{ resource: 'tool:deploy_service', conditions: { environment: ['production'] } }],
    },
  },
};

/** What the fake serves; tests mutate it between polls. */
export interface FakeIssuerState {
  /** The compact JWS served at /policy/v1/bundle. */
  bundle: string;
  etag: string;
  /** Revocations in feed order; `seq` is the cursor. */
  revocations: Array<{ elevation: string; revokedAt: number; seq: number }>;
  /** Key that signs revocation pages. */
  feedKey: TestKey;
  /** Counters by outcome. */
  counts: { bundle200: number; bundle304: number; feed: number; ifNoneMatch: string[] };
  /** Answer every request with this status instead. */
  failWith?: number;
}

export interface FakeIssuer {
  issuer: string;
  key: TestKey;
  state: FakeIssuerState;
  /** Signs a policy bundle like the server does; `header`/`claims` override the defaults. */
  signBundle(
    content?: { catalogue?: CatalogueInput; roles?: readonly RoleInput[] },
    opts?: { key?: TestKey; typ?: string; iss?: string; iat?: number; version?: string },
  ): Promise<string>;
  /** Publishes a bundle with a fresh ETag. */
  publish(bundle: string, etag?: string): void;
  close(): Promise<void>;
}

/** A fake authorization server: metadata, JWKS, the signed policy bundle and the revocation feed. */
export async function startFakeIssuer(): Promise<FakeIssuer> {
  const key = await makeKey('policy-key');
  let issuer = '';
  let etagCounter = 0;
  const state: FakeIssuerState = {
    bundle: '',
    etag: '',
    revocations: [],
    feedKey: key,
    counts: { bundle200: 0, bundle304: 0, feed: 0, ifNoneMatch: [] },
  };

  const server: Server = createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', issuer);
    const json = (status: number, body: unknown) => {
      res.writeHead(status, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (state.failWith !== undefined) return json(state.failWith, { error: 'server_error' });
    if (url.pathname === '/.well-known/oauth-authorization-server')
      return json(200, { issuer, jwks_uri: `${issuer}/jwks` });
    if (url.pathname === '/jwks') return json(200, { keys: [key.jwk] });
    if (url.pathname === '/policy/v1/bundle') {
      const inm = req.headers['if-none-match'];
      if (typeof inm === 'string') state.counts.ifNoneMatch.push(inm);
      if (inm === state.etag) {
        state.counts.bundle304 += 1;
        res.writeHead(304, { ETag: state.etag });
        return res.end();
      }
      state.counts.bundle200 += 1;
      res.writeHead(200, { 'Content-Type': 'application/jwt', ETag: state.etag });
      return res.end(state.bundle);
    }
    if (url.pathname === '/elevation/v1/revocations') {
      state.counts.feed += 1;
      const since = Number(url.searchParams.get('since') ?? '0');
      // Two per page, so that tests see the client follow the cursor.
      const page = state.revocations.filter((r) => r.seq > since).slice(0, 2);
      const payload = {
        iss: issuer,
        iat: Math.floor(Date.now() / 1000),
        revoked: page.map((r) => ({ elevation: r.elevation, revoked_at: r.revokedAt })),
        next: String(page.at(-1)?.seq ?? since),
      };
      const jws = await new CompactSign(new TextEncoder().encode(JSON.stringify(payload)))
        .setProtectedHeader({ alg: 'ES256', kid: state.feedKey.kid, typ: 'revocations+jwt' })
        .sign(state.feedKey.privateKey);
      res.writeHead(200, { 'Content-Type': 'application/jwt' });
      return res.end(jws);
    }
    json(404, {});
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const fake: FakeIssuer = {
    issuer,
    key,
    state,
    async signBundle(content = {}, opts = {}) {
      const signer = opts.key ?? key;
      return new SignJWT({
        version: opts.version ?? `v${++etagCounter}`,
        catalogue: content.catalogue ?? CATALOGUE,
        roles: content.roles ?? DEFAULT_ROLES,
      })
        .setProtectedHeader({ alg: 'ES256', kid: signer.kid, typ: opts.typ ?? 'policy+jwt' })
        .setIssuer(opts.iss ?? issuer)
        .setIssuedAt(opts.iat ?? Math.floor(Date.now() / 1000))
        .sign(signer.privateKey);
    },
    publish(bundle, etag) {
      state.bundle = bundle;
      state.etag = etag ?? `W/"${++etagCounter}"`;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  fake.publish(await fake.signBundle());
  return fake;
}
