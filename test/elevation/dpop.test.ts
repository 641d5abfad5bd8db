import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as client from 'openid-client';
import { decodeJwt } from 'jose';
import { databaseKinds } from '../helpers/databases.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { RESOURCE, registerAgent, requestElevation, userToken } from '../helpers/agents.ts';
import { pollDecided } from '../helpers/ciba.ts';

describe.each(databaseKinds())(
  'scopes that must be sender-constrained (dpop: true) (%s)',
  (kind) => {
    let t: TestServer;
    let dir: string;
    let agent: client.Configuration;
    let user: client.TokenEndpointResponse;
    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), 'mcpe-dpop-'));
      const catalogue = JSON.parse(
        await readFile(new URL('../../scopes.json', import.meta.url), 'utf8'),
      );
      catalogue.scopes['mcp:deploy:staging'].dpop = true;
      delete catalogue.$schema;
      await writeFile(join(dir, 'scopes.json'), JSON.stringify(catalogue));
      t = await startTestServer(kind, {
        SCOPES_FILE: join(dir, 'scopes.json'),
        CIBA_POLL_INTERVAL: '1',
      });
      await t.server.users.create({
        email: 'dev@example.com',
        password: 'dev password',
        roles: ['developer'],
      });
      agent = await registerAgent(t);
      user = await userToken(agent, 'dev@example.com', 'dev password');
    });
    afterAll(async () => {
      await t?.close();
      await rm(dir, { recursive: true, force: true });
    });

    it('leaves the scope out of a bearer token', async () => {
      const started = await requestElevation(agent, user.access_token, 'mcp:deploy:staging');
      const tokens = await pollDecided(agent, started, {
        resource: RESOURCE,
      });
      const claims = decodeJwt(tokens.access_token);
      expect(String(claims.scope).split(' ')).not.toContain('mcp:deploy:staging');
      expect(claims.cnf).toBeUndefined();
    });

    it('issues it in a DPoP-bound token (cnf.jkt)', async () => {
      const started = await requestElevation(agent, user.access_token, 'mcp:deploy:staging');
      const dpop = client.getDPoPHandle(agent, await client.randomDPoPKeyPair('ES256'));
      const tokens = await pollDecided(agent, started, { resource: RESOURCE }, { DPoP: dpop });
      expect(tokens.token_type.toLowerCase()).toBe('dpop');
      const claims = decodeJwt(tokens.access_token);
      expect(String(claims.scope).split(' ')).toContain('mcp:deploy:staging');
      expect((claims.cnf as { jkt?: string }).jkt).toEqual(expect.any(String));
    });
  },
);
