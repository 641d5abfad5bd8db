import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { createTestDatabase, databaseKinds, type TestDatabase } from '../helpers/databases.ts';
import { freePort, startTestServer, type TestServer } from '../helpers/server.ts';
import { runCli } from '../helpers/cli.ts';

const RESOURCE = 'http://localhost:4000/mcp';

function tokenRequest(url: string, auth: string, body: Record<string, string>) {
  return fetch(`${url}/token`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: `Basic ${Buffer.from(auth).toString('base64')}`,
    },
    body: new URLSearchParams(body),
  });
}

describe.each(databaseKinds())(
  'client_credentials for a client added with the CLI (%s)',
  (kind) => {
    let db: TestDatabase;
    let dataDir: string;
    let t: TestServer;

    beforeAll(async () => {
      db = await createTestDatabase(kind);
      dataDir = await mkdtemp(join(tmpdir(), 'mcpe-cli-'));
      const env = { DATA_DIR: dataDir, DATABASE_URL: db.url };
      // The CLI runs before the server: embedded PGlite allows one process at a time.
      const added = await runCli(
        [
          'clients',
          'add',
          '--id',
          'deploy-bot',
          '--secret',
          's3cret-value-123',
          '--role',
          'developer',
        ],
        env,
      );
      expect(added).toMatchObject({ code: 0 });
      expect(added.stdout).toContain('created client deploy-bot');
      expect(added.stdout + added.stderr).not.toContain('s3cret-value-123');
      t = await startTestServer(kind, {}, { db, dataDir, port: await freePort() });
    });
    afterAll(async () => {
      await t?.close();
      await rm(dataDir, { recursive: true, force: true });
    });

    it('issues a JWT with the base scopes and the client roles', async () => {
      const res = await tokenRequest(t.url, 'deploy-bot:s3cret-value-123', {
        grant_type: 'client_credentials',
        resource: RESOURCE,
      });
      expect(res.status).toBe(200);
      const body = (await res.json()) as {
        access_token: string;
        scope: string;
        token_type: string;
      };
      const { payload } = await jwtVerify(
        body.access_token,
        createRemoteJWKSet(new URL(`${t.url}/jwks`)),
        { issuer: t.url, audience: RESOURCE, typ: 'at+jwt' },
      );
      expect(String(payload.scope).split(' ').sort()).toEqual([
        'mcp:resources:read',
        'mcp:tools:read',
      ]);
      expect(body.scope.split(' ').sort()).toEqual(['mcp:resources:read', 'mcp:tools:read']);
      expect(payload.roles).toEqual(['developer', 'viewer']);
      expect(payload.client_id).toBe('deploy-bot');
      expect(payload.sub).toBe('deploy-bot');
    });

    it('answers a wrong secret with invalid_client', async () => {
      const res = await tokenRequest(t.url, 'deploy-bot:wrong', {
        grant_type: 'client_credentials',
        resource: RESOURCE,
      });
      expect(res.status).toBe(401);
      expect(((await res.json()) as { error: string }).error).toBe('invalid_client');
    });

    it('answers an unknown resource with invalid_target', async () => {
      const res = await tokenRequest(t.url, 'deploy-bot:s3cret-value-123', {
        grant_type: 'client_credentials',
        resource: 'http://elsewhere.example/mcp',
      });
      expect(res.status).toBe(400);
      expect(((await res.json()) as { error: string }).error).toBe('invalid_target');
    });

    it('answers an unknown grant type with unsupported_grant_type', async () => {
      const res = await tokenRequest(t.url, 'deploy-bot:s3cret-value-123', {
        grant_type: 'password',
        username: 'a',
        password: 'b',
      });
      expect(res.status).toBe(400);
      expect(((await res.json()) as { error: string }).error).toBe('unsupported_grant_type');
    });
  },
);
