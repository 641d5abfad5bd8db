import { once } from 'node:events';
import { createServer as createNetServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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
 * DESIGN §8: a Client ID Metadata Document URL in an unauthenticated authorization request is
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
});
