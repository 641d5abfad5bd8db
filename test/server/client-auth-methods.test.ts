import { Writable } from 'node:stream';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { SignJWT, exportJWK, generateKeyPair } from 'jose';
import { databaseKinds } from '../helpers/databases.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { runCli } from '../helpers/cli.ts';
import { startAdminFixture, type AdminFixture } from '../admin/fixture.ts';
import { registerClient } from '../../src/oidc/clients.ts';

const RESOURCE = 'http://localhost:4000/mcp';
const SECRET = 'a-client-secret-0123456789';
const basic = (id: string, secret: string) =>
  `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;

describe.each(databaseKinds())(
  'client authentication methods chosen at registration (%s)',
  (kind) => {
    let t: TestServer;
    const lines: Array<Record<string, unknown>> = [];
    let keys: Awaited<ReturnType<typeof generateKeyPair>>;

    beforeAll(async () => {
      const sink = new Writable({
        write(chunk, _enc, done) {
          lines.push(JSON.parse(String(chunk)));
          done();
        },
      });
      t = await startTestServer(kind, {}, undefined, { log: pino({ level: 'info' }, sink) });
      keys = await generateKeyPair('ES256');
      const jwk = { ...(await exportJWK(keys.publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' };
      const add = (
        id: string,
        extra: Parameters<typeof registerClient>[2] extends infer I ? Partial<I> : never,
      ) =>
        registerClient(t.server.provider, t.server.db.db, {
          id,
          grantTypes: ['client_credentials'],
          roles: ['viewer'],
          ...extra,
        });
      await add('basic-bot', { secret: SECRET, authMethod: 'client_secret_basic' });
      await add('post-bot', { secret: SECRET, authMethod: 'client_secret_post' });
      await add('jwt-bot', { authMethod: 'private_key_jwt', jwks: { keys: [jwk] } });
      await registerClient(t.server.provider, t.server.db.db, {
        id: 'public-app',
        redirectUris: ['http://127.0.0.1:9/cb'],
        authMethod: 'none',
      });
    });
    afterAll(async () => t?.close());

    const token = (body: Record<string, string>, headers: Record<string, string> = {}) =>
      fetch(`${t.url}/token`, {
        method: 'POST',
        headers,
        body: new URLSearchParams({
          grant_type: 'client_credentials',
          resource: RESOURCE,
          ...body,
        }),
      });
    const assertion = async (key?: Awaited<ReturnType<typeof generateKeyPair>>['privateKey']) =>
      new SignJWT({ jti: randomUUID() })
        .setProtectedHeader({ alg: 'ES256', kid: 'k1' })
        .setIssuer('jwt-bot')
        .setSubject('jwt-bot')
        .setAudience(t.url)
        .setIssuedAt()
        .setExpirationTime('1m')
        .sign(key ?? keys.privateKey);
    const jwtBody = async (key?: Awaited<ReturnType<typeof generateKeyPair>>['privateKey']) => ({
      client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
      client_assertion: await assertion(key),
    });
    /** The log line of the last failed client authentication, after the request that caused it. */
    async function failure(res: Response) {
      expect(res.status).toBe(401);
      const body = (await res.json()) as { error: string; error_description: string };
      // The response stays generic: it says nothing about why.
      expect(body).toEqual({
        error: 'invalid_client',
        error_description: 'client authentication failed',
      });
      const line = lines.findLast((l) => l.msg === 'client authentication failed')!;
      expect(line.level).toBe(30); // info
      expect(JSON.stringify(line)).not.toContain(SECRET);
      expect(JSON.stringify(line)).not.toContain('wrong-secret');
      return line;
    }

    it('each method works for a client registered with it', async () => {
      expect((await token({}, { authorization: basic('basic-bot', SECRET) })).status).toBe(200);
      expect((await token({ client_id: 'post-bot', client_secret: SECRET })).status).toBe(200);
      expect((await token({ client_id: 'jwt-bot', ...(await jwtBody()) })).status).toBe(200);
      const revoke = await fetch(`${t.url}/token/revocation`, {
        method: 'POST',
        body: new URLSearchParams({ client_id: 'public-app', token: 'x' }),
      });
      expect(revoke.status).toBe(200);
    });

    it('a secret client may send its secret either way (HTTP Basic or the body), as oidc-provider allows', async () => {
      expect((await token({ client_id: 'basic-bot', client_secret: SECRET })).status).toBe(200);
      expect((await token({}, { authorization: basic('post-bot', SECRET) })).status).toBe(200);
    });

    it('a private_key_jwt client sending a secret is refused, and the log says the method is not allowed', async () => {
      const line = await failure(await token({ client_id: 'jwt-bot', client_secret: SECRET }));
      expect(line).toMatchObject({
        reason: 'method_not_allowed',
        clientId: 'jwt-bot',
        presented: 'client_secret_post',
        registered: 'private_key_jwt',
        endpoint: 'token',
      });
    });

    it('a secret client sending a client assertion is refused as method not allowed', async () => {
      const jwt = await new SignJWT({ jti: randomUUID() })
        .setProtectedHeader({ alg: 'ES256' })
        .setIssuer('basic-bot')
        .setSubject('basic-bot')
        .setAudience(t.url)
        .setIssuedAt()
        .setExpirationTime('1m')
        .sign(keys.privateKey);
      const line = await failure(
        await token({
          client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
          client_assertion: jwt,
        }),
      );
      expect(line).toMatchObject({
        reason: 'method_not_allowed',
        clientId: 'basic-bot',
        presented: 'client_assertion',
        registered: 'client_secret_basic',
      });
    });

    it('a public client cannot use client_credentials with just its id', async () => {
      const res = await token({ client_id: 'public-app' });
      expect(res.status).toBe(400);
    });

    it('a wrong secret is logged as such, without the secret', async () => {
      const line = await failure(
        await token({}, { authorization: basic('basic-bot', 'wrong-secret') }),
      );
      expect(line).toMatchObject({ reason: 'wrong_secret', clientId: 'basic-bot' });
    });

    it('an unknown client is logged as such', async () => {
      const line = await failure(
        await token({}, { authorization: basic('no-such-bot', 'wrong-secret') }),
      );
      expect(line).toMatchObject({
        reason: 'unknown_client',
        clientId: 'no-such-bot',
        presented: 'client_secret_basic',
      });
    });

    it('a bad client assertion is logged as such', async () => {
      const stranger = await generateKeyPair('ES256');
      const line = await failure(
        await token({ client_id: 'jwt-bot', ...(await jwtBody(stranger.privateKey)) }),
      );
      expect(line).toMatchObject({
        reason: 'bad_assertion',
        clientId: 'jwt-bot',
        presented: 'client_assertion',
        registered: 'private_key_jwt',
      });
    });

    it('a failed authentication at the introspection endpoint is logged too', async () => {
      const res = await fetch(`${t.url}/token/introspection`, {
        method: 'POST',
        headers: { authorization: basic('post-bot', 'wrong-secret') },
        body: new URLSearchParams({ token: 'x' }),
      });
      const line = await failure(res);
      expect(line).toMatchObject({
        reason: 'wrong_secret',
        clientId: 'post-bot',
        endpoint: 'introspection',
      });
    });
  },
);

describe.each(databaseKinds())(
  'the admin API registers clients with their authentication method (%s)',
  (kind) => {
    let f: AdminFixture;
    let token: string;
    beforeAll(async () => {
      f = await startAdminFixture(kind);
      token = await f.token();
    });
    afterAll(async () => f?.close());

    it('creates a client_secret_post client whose secret works in the body', async () => {
      const res = await f.api('POST', '/clients', {
        token,
        json: { id: 'post-api', roles: ['viewer'], tokenEndpointAuthMethod: 'client_secret_post' },
      });
      expect(res.status).toBe(201);
      const created = (await res.json()) as {
        clientSecret: string;
        tokenEndpointAuthMethod: string;
      };
      expect(created.tokenEndpointAuthMethod).toBe('client_secret_post');
      const ok = await fetch(`${f.t.url}/token`, {
        method: 'POST',
        body: new URLSearchParams({
          grant_type: 'client_credentials',
          resource: RESOURCE,
          client_id: 'post-api',
          client_secret: created.clientSecret,
        }),
      });
      expect(ok.status).toBe(200);
    });

    it('creates a private_key_jwt client from a JWKS and returns no secret', async () => {
      const { publicKey } = await generateKeyPair('ES256');
      const jwks = { keys: [{ ...(await exportJWK(publicKey)), kid: 'k1' }] };
      const res = await f.api('POST', '/clients', {
        token,
        json: { id: 'jwt-api', tokenEndpointAuthMethod: 'private_key_jwt', jwks },
      });
      expect(res.status).toBe(201);
      const created = (await res.json()) as Record<string, unknown>;
      expect(created.tokenEndpointAuthMethod).toBe('private_key_jwt');
      expect(created.clientSecret).toBeUndefined();
    });

    it('refuses bad combinations with a 400 naming the rule', async () => {
      const cases: Array<[Record<string, unknown>, RegExp]> = [
        [{ tokenEndpointAuthMethod: 'private_key_jwt' }, /private_key_jwt needs/],
        [
          { tokenEndpointAuthMethod: 'client_secret_basic', jwksUri: 'https://keys.example/jwks' },
          /only with private_key_jwt/,
        ],
        [
          { tokenEndpointAuthMethod: 'none', grantTypes: ['client_credentials'] },
          /must authenticate/,
        ],
        [{ tokenEndpointAuthMethod: 'client_secret_jwt' }, /tokenEndpointAuthMethod/],
      ];
      for (const [json, message] of cases) {
        const res = await f.api('POST', '/clients', {
          token,
          json: { id: `bad-${randomUUID().slice(0, 8)}`, ...json },
        });
        expect(res.status).toBe(400);
        expect(await res.text()).toMatch(message);
      }
    });

    it('documents the fields in the OpenAPI document', async () => {
      const doc = JSON.stringify(await (await f.api('GET', '/openapi.json', { token })).json());
      for (const field of ['tokenEndpointAuthMethod', 'jwksUri', 'jwks'])
        expect(doc).toContain(`"${field}"`);
      expect(doc).toContain('client_secret_post');
    });
  },
);

describe('mcp-elevate clients add --auth-method', () => {
  const bad: Array<[string[], RegExp]> = [
    [['--auth-method', 'client_secret_jwt'], /--auth-method must be one of/],
    [['--auth-method', 'private_key_jwt'], /private_key_jwt needs/],
    [
      ['--auth-method', 'private_key_jwt', '--jwks', 'not json'],
      /--jwks must be a JSON Web Key Set/,
    ],
    [
      ['--auth-method', 'private_key_jwt', '--jwks-uri', 'https://k.example/jwks', '--secret', 'x'],
      /has no secret/,
    ],
    [
      ['--auth-method', 'client_secret_post', '--jwks-uri', 'https://k.example/jwks'],
      /only with private_key_jwt/,
    ],
    [['--auth-method', 'none'], /must authenticate/],
  ];
  for (const [args, message] of bad) {
    it(`refuses ${args.join(' ')} with one line and exit code 2`, async () => {
      const res = await runCli(['clients', 'add', '--id', 'bot', ...args], {
        DATA_DIR: '/nonexistent/never-created',
      });
      expect(res.code).toBe(2);
      expect(res.stderr.trim().split('\n')).toHaveLength(1);
      expect(res.stderr).toMatch(message);
    });
  }

  it('documents the methods in --help', async () => {
    const res = await runCli(['clients', 'add', '--help'], {});
    expect(res.code).toBe(0);
    for (const m of [
      'client_secret_basic',
      'client_secret_post',
      'private_key_jwt',
      'none',
      '--jwks-uri',
      '--jwks',
    ])
      expect(res.stdout).toContain(m);
  });
});
