import { once } from 'node:events';
import { createServer as createNetServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SignJWT, generateKeyPair } from 'jose';
import { startTestServer, type TestServer } from '../helpers/server.ts';

/** A TCP listener on `host` that counts the connections it receives (and drops them). */
async function listener(host: string) {
  let n = 0;
  const server = createNetServer((socket) => {
    n++;
    socket.destroy();
  });
  server.listen(0, host);
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  return { port, connections: () => n, close: () => server.close() };
}

/**
 * ARCHITECTURE.md §8: a Client ID Metadata Document URL in an unauthenticated authorization request is
 * fetched only through the outbound guard; `OUTBOUND_ALLOW` admits an internal host.
 */
describe('client ID metadata documents go through the outbound guard', () => {
  let t: TestServer;
  const authorize = (clientId: string) => {
    const url = new URL(`${t.url}/auth`);
    const params = {
      client_id: clientId,
      response_type: 'code',
      redirect_uri: 'https://app.example/cb',
      scope: 'openid',
      code_challenge: 'a'.repeat(43),
      code_challenge_method: 'S256',
    };
    for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
    return fetch(url, { redirect: 'manual' });
  };

  beforeAll(async () => {
    // 127.0.0.2 stands for an internal CIMD host the operator admits; 127.0.0.1 is not admitted.
    t = await startTestServer('pglite', { OUTBOUND_ALLOW: '127.0.0.2/32' });
  });
  afterAll(async () => t?.close());

  it('an authorization request naming a loopback CIMD URL, in any spelling, makes no connection', async () => {
    const target = await listener('127.0.0.1');
    try {
      for (const host of [
        '127.0.0.1',
        '127.1',
        '0x7f000001',
        '2130706433',
        '[::ffff:127.0.0.1]',
        'localhost',
        'x.localhost',
      ]) {
        const res = await authorize(`https://${host}:${target.port}/client.json`);
        expect(res.status, host).toBe(400);
        expect(await res.text(), host).toContain('invalid_client');
      }
      expect(target.connections()).toBe(0);
    } finally {
      target.close();
    }
  });

  it('an allow-listed internal host is fetched', async () => {
    const target = await listener('127.0.0.2');
    try {
      // The listener speaks no TLS, so the fetch fails after connecting: the connection is the proof.
      const res = await authorize(`https://127.0.0.2:${target.port}/client.json`);
      expect(res.status).toBe(400);
      expect(target.connections()).toBeGreaterThan(0);
    } finally {
      target.close();
    }
  });

  it("a private_key_jwt client's loopback jwks_uri is never fetched", async () => {
    const target = await listener('127.0.0.1');
    try {
      const reg = await fetch(`${t.url}/reg`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          redirect_uris: ['https://app.example/cb'],
          token_endpoint_auth_method: 'private_key_jwt',
          token_endpoint_auth_signing_alg: 'ES256',
          jwks_uri: `https://127.0.0.1:${target.port}/jwks.json`,
        }),
      });
      expect(reg.status).toBe(201);
      const { client_id } = (await reg.json()) as { client_id: string };
      const { privateKey } = await generateKeyPair('ES256');
      const assertion = await new SignJWT({})
        .setProtectedHeader({ alg: 'ES256' })
        .setIssuer(client_id)
        .setSubject(client_id)
        .setAudience(t.url)
        .setJti(crypto.randomUUID())
        .setIssuedAt()
        .setExpirationTime('1m')
        .sign(privateKey);
      const res = await fetch(`${t.url}/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          grant_type: 'authorization_code',
          code: 'x',
          redirect_uri: 'https://app.example/cb',
          client_id,
          client_assertion: assertion,
          client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
        }),
      });
      expect(res.status).toBe(401);
      expect(((await res.json()) as { error: string }).error).toBe('invalid_client');
      expect(target.connections()).toBe(0);
    } finally {
      target.close();
    }
  });
});
