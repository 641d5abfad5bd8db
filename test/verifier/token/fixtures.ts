import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  exportJWK,
  generateKeyPair,
  SignJWT,
  type CryptoKey,
  type JWK,
  type JWTPayload,
} from 'jose';

/** A signing key of the fake issuer. */
export interface TestKey {
  kid: string;
  privateKey: CryptoKey;
  publicKey: CryptoKey;
  jwk: JWK;
}

export async function makeKey(kid: string): Promise<TestKey> {
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
  return {
    kid,
    privateKey,
    publicKey,
    jwk: { ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' },
  };
}

/** How the fake issuer behaves. */
export type IssuerMode = 'ok' | 'error' | 'only-openid';

/**
 * A fake authorization server on 127.0.0.1: RFC 8414 / OIDC metadata and a JWKS, counting every
 * request so tests can prove how often the verifier goes to the network.
 */
export interface TestIssuer {
  issuer: string;
  key: TestKey;
  /** Published keys; mutate to rotate. */
  published: TestKey[];
  counts: { metadata: number; openid: number; jwks: number; total: number };
  mode: IssuerMode;
  close(): Promise<void>;
}

export async function startIssuer(): Promise<TestIssuer> {
  const key = await makeKey('k1');
  const state = {
    counts: { metadata: 0, openid: 0, jwks: 0, total: 0 },
    mode: 'ok' as IssuerMode,
    published: [key],
  };
  let issuer = '';
  const server: Server = createServer((req, res) => {
    state.counts.total += 1;
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (state.mode === 'error') return send(500, { error: 'server_error' });
    if (req.url === '/.well-known/oauth-authorization-server') {
      state.counts.metadata += 1;
      if (state.mode === 'only-openid') return send(404, {});
      return send(200, { issuer, jwks_uri: `${issuer}/jwks` });
    }
    if (req.url === '/.well-known/openid-configuration') {
      state.counts.openid += 1;
      return send(200, { issuer, jwks_uri: `${issuer}/jwks` });
    }
    if (req.url === '/jwks') {
      state.counts.jwks += 1;
      return send(200, { keys: state.published.map((k) => k.jwk) });
    }
    send(404, {});
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return Object.assign(state, {
    issuer,
    key,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  });
}

export const RESOURCE = 'https://mcp.example.com/mcp';

/** Options of {@link signAccessToken}. */
export interface SignOptions {
  key?: TestKey;
  /** Protected header overrides (e.g. `typ`, `kid`). */
  header?: Record<string, unknown>;
  /** Clock for iat/exp. Default now. */
  nowSec?: number;
}

/** Signs an RFC 9068 access token as our server would; `claims` override the defaults. */
export async function signAccessToken(
  issuer: TestIssuer,
  claims: JWTPayload = {},
  options: SignOptions = {},
): Promise<string> {
  const key = options.key ?? issuer.key;
  const now = options.nowSec ?? Math.floor(Date.now() / 1000);
  const payload: JWTPayload = {
    iss: issuer.issuer,
    aud: RESOURCE,
    sub: 'user-1',
    client_id: 'agent-1',
    scope: 'mcp:read mcp:tools',
    roles: ['viewer'],
    iat: now,
    exp: now + 3600,
    jti: crypto.randomUUID(),
    ...claims,
  };
  for (const [name, value] of Object.entries(payload))
    if (value === undefined) delete payload[name];
  return new SignJWT(payload)
    .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: key.kid, ...options.header })
    .sign(key.privateKey);
}

/** A controllable clock for `currentDate`. */
export function testClock(startMs = Date.now()) {
  let now = startMs;
  return {
    currentDate: () => new Date(now),
    advance(ms: number) {
      now += ms;
    },
    get nowSec() {
      return Math.floor(now / 1000);
    },
  };
}
