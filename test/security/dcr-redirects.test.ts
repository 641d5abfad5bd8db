import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { databaseKinds } from '../helpers/databases.ts';
import { registerClient } from '../../src/oidc/clients.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

// OAuth 2.1 §2.3.1 / RFC 8252 §7.3: plain http redirect URIs only on loopback hosts.
const REFUSED = [
  'http://example.com/cb',
  'http://10.0.0.1/cb',
  'http://192.168.1.5:8080/cb',
  'http://localhost.evil.com/cb',
  'http://127.0.0.1.nip.io/cb',
  'http://evil.com#@127.0.0.1/cb',
  'http://[fe80::1]/cb',
];
const ACCEPTED = [
  'http://127.0.0.1:8080/cb',
  'http://[::1]:9000/cb',
  'http://localhost/cb',
  'HTTP://LOCALHOST:7000/cb',
  'https://app.example.com/cb',
];

describe.each(databaseKinds())('redirect URIs at registration (%s)', (kind) => {
  let t: TestServer;
  const register = (uri: string) =>
    fetch(`${t.url}/reg`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ redirect_uris: [uri], token_endpoint_auth_method: 'none' }),
    }).then(async (r) => ({ status: r.status, body: (await r.json()) as { error?: string } }));

  beforeAll(async () => {
    t = await startTestServer(kind);
  }, 600_000);
  afterAll(async () => t?.close());

  it('refuses non-loopback http redirect URIs at dynamic registration with invalid_redirect_uri', async () => {
    for (const uri of REFUSED) {
      const res = await register(uri);
      expect(res.status, uri).toBe(400);
      expect(res.body.error, uri).toBe('invalid_redirect_uri');
    }
  });

  it('accepts loopback http (any case of scheme and host) and https redirect URIs', async () => {
    for (const uri of ACCEPTED) expect((await register(uri)).status, uri).toBe(201);
  });

  it('applies the same rule to clients an admin registers (CLI, admin API)', async () => {
    for (const [i, uri] of REFUSED.entries()) {
      await expect(
        registerClient(t.server.provider, t.server.db.db, {
          id: `admin-made-${i}`,
          redirectUris: [uri],
        }),
        uri,
      ).rejects.toMatchObject({ code: 'ERR_INVALID_CLIENT_METADATA' });
    }
    await expect(
      registerClient(t.server.provider, t.server.db.db, {
        id: 'admin-made-ok',
        redirectUris: ['http://127.0.0.1:9/cb'],
      }),
    ).resolves.toMatchObject({ clientId: 'admin-made-ok' });
  });
});
