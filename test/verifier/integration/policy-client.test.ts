import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AuthInfo } from '@modelcontextprotocol/sdk/server/auth/types.js';
import { SignJWT } from 'jose';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  createPolicyClient,
  createTokenVerifier,
  PolicyClientError,
  TemporarilyUnavailableError,
  type PolicyClient,
  type PolicyClientOptions,
} from '../../../src/verifier/index.ts';
import { makeKey } from '../token/fixtures.ts';
import { CATALOGUE, RESOURCE, startFakeIssuer, type FakeIssuer } from './fake-issuer.ts';

const developer = (scopes = ['mcp:tools:read']): AuthInfo => ({
  token: 't',
  clientId: 'agent',
  scopes,
  extra: { subject: 'dev-1', roles: ['developer'] },
});
const deploy = (environment: string) => ({
  name: 'deploy_service',
  arguments: { service: 'billing', environment, version: '1.2.3' },
});

let fake: FakeIssuer;
let client: PolicyClient | undefined;
let errors: PolicyClientError[];

function start(options: Partial<PolicyClientOptions> = {}): PolicyClient {
  // Long intervals: each test drives refreshes and polls itself.
  client = createPolicyClient({
    issuer: fake.issuer,
    resource: RESOURCE,
    refreshMs: 3_600_000,
    revocationPollMs: 10_000,
    onError: (e) => errors.push(e),
    ...options,
  });
  return client;
}

beforeAll(async () => {
  fake = await startFakeIssuer();
});
afterAll(() => fake.close());
beforeEach(async () => {
  errors = [];
  fake.publish(await fake.signBundle());
  fake.state.revocations = [];
  fake.state.feedKey = fake.key;
  fake.state.failWith = undefined;
});
afterEach(async () => {
  await client?.close();
  client = undefined;
});

describe('policy client with the signed bundle', () => {
  it('decides with the verified bundle: allow, step-up naming one scope, deny naming the role', async () => {
    const policy = start();
    await policy.ready();
    expect(await policy.decide(developer(), { name: 'list_services' })).toEqual({
      decision: 'allow',
    });
    expect(await policy.decide(developer(), deploy('staging'))).toEqual({
      decision: 'step_up',
      scopes: ['mcp:deploy:staging'],
    });
    expect(
      await policy.decide(developer(['mcp:tools:read', 'mcp:deploy:staging']), deploy('staging')),
    ).toEqual({ decision: 'allow' });
    expect(await policy.decide(developer(), deploy('production'))).toMatchObject({
      decision: 'deny',
      requiredRole: 'senior_developer',
    });
    expect(await policy.visible(developer(), 'deploy_service')).toBe(true);
    expect(await policy.visible(developer(), 'rollback_deployment')).toBe(false);
    expect(policy.baseScopes()).toEqual(['mcp:tools:read']);
    expect(policy.stats()).toMatchObject({ policySource: 'bundle', revoked: 0 });
  });

  it('revalidates with If-None-Match and keeps the policy on 304', async () => {
    const policy = start();
    await policy.ready();
    const version = policy.current()!.version;
    const before = { ...fake.state.counts };
    await policy.refresh();
    await policy.refresh();
    expect(fake.state.counts.bundle304 - before.bundle304).toBe(2);
    expect(fake.state.counts.bundle200).toBe(before.bundle200);
    expect(fake.state.counts.ifNoneMatch.at(-1)).toBe(fake.state.etag);
    expect(policy.current()!.version).toBe(version);

    fake.publish(
      await fake.signBundle(
        {
          roles: [],
          catalogue: {
            ...CATALOGUE,
            scopes: { 'mcp:tools:read': CATALOGUE.scopes['mcp:tools:read']! },
            resources: {},
          },
        },
        { version: 'v-next' },
      ),
    );
    await policy.refresh();
    expect(policy.current()!.version).toBe('v-next');
  });

  it('refuses a bundle signed with another key and keeps the last good one', async () => {
    const policy = start();
    await policy.ready();
    const good = policy.current()!.version;
    const impostor = await makeKey(fake.key.kid); // same kid, different key pair
    fake.publish(
      await fake.signBundle(
        { roles: [{ name: 'developer', permissions: [{ resource: '*', action: '*' }] }] },
        { key: impostor, version: 'forged' },
      ),
    );
    await expect(policy.refresh()).rejects.toMatchObject({ code: 'ERR_POLICY_SIGNATURE' });
    expect(policy.current()!.version).toBe(good);
    expect(await policy.decide(developer(), deploy('production'))).toMatchObject({
      decision: 'deny',
    });

    const unknownKid = await makeKey('someone-else');
    fake.publish(await fake.signBundle({}, { key: unknownKid }));
    await expect(policy.refresh()).rejects.toMatchObject({ code: 'ERR_POLICY_SIGNATURE' });
    expect(policy.current()!.version).toBe(good);
    expect(errors.map((e) => e.code)).toEqual(['ERR_POLICY_SIGNATURE', 'ERR_POLICY_SIGNATURE']);
  });

  it('refuses a bundle with another typ or issuer, an invalid role graph, or an older iat', async () => {
    const policy = start();
    await policy.ready();
    const good = policy.current()!.version;
    fake.publish(await fake.signBundle({}, { typ: 'at+jwt' }));
    await expect(policy.refresh()).rejects.toMatchObject({ code: 'ERR_POLICY_SIGNATURE' });
    fake.publish(await fake.signBundle({}, { iss: 'https://evil.example' }));
    await expect(policy.refresh()).rejects.toMatchObject({ code: 'ERR_POLICY_SIGNATURE' });
    fake.publish(
      await fake.signBundle({
        roles: [
          { name: 'a', inherits: ['b'] },
          { name: 'b', inherits: ['a'] },
        ],
      }),
    );
    await expect(policy.refresh()).rejects.toMatchObject({ code: 'ERR_POLICY_INVALID' });
    // A replay of an older, differently versioned bundle must not roll the policy back.
    fake.publish(
      await fake.signBundle({}, { iat: Math.floor(Date.now() / 1000) - 3600, version: 'old' }),
    );
    await expect(policy.refresh()).rejects.toMatchObject({ code: 'ERR_POLICY_STALE' });
    expect(policy.current()!.version).toBe(good);
  });

  it('keeps deciding with the last good policy while the server fails', async () => {
    const policy = start();
    await policy.ready();
    fake.state.failWith = 503;
    await expect(policy.refresh()).rejects.toMatchObject({ code: 'ERR_POLICY_FETCH' });
    expect(await policy.decide(developer(), { name: 'list_services' })).toEqual({
      decision: 'allow',
    });
    expect(policy.stats().lastPolicyError?.code).toBe('ERR_POLICY_FETCH');
  });

  it('rejects ready() when the first bundle is refused, and answers decisions with 503 until one is accepted', async () => {
    fake.publish(await fake.signBundle({}, { key: await makeKey(fake.key.kid) }));
    const policy = start();
    await expect(policy.ready()).rejects.toBeInstanceOf(PolicyClientError);
    await expect(policy.decide(developer(), { name: 'list_services' })).rejects.toBeInstanceOf(
      TemporarilyUnavailableError,
    );
    expect(await policy.visible(developer(), 'list_services')).toBe(false);
    fake.publish(await fake.signBundle());
    await policy.ready();
    expect(await policy.decide(developer(), { name: 'list_services' })).toEqual({
      decision: 'allow',
    });
  });
});

describe('policy client revocation feed', () => {
  it('follows the cursor across pages and reports every revoked elevation', async () => {
    const now = Math.floor(Date.now() / 1000);
    fake.state.revocations = [1, 2, 3, 4, 5].map((seq) => ({
      elevation: `el-${seq}`,
      revokedAt: now,
      seq,
    }));
    const policy = start();
    await policy.ready();
    expect(['el-1', 'el-2', 'el-3', 'el-4', 'el-5'].every((id) => policy.isRevoked(id))).toBe(true);
    expect(policy.isRevoked('el-6')).toBe(false);
    expect(policy.stats()).toMatchObject({ revoked: 5, revocationCursor: '5' });

    fake.state.revocations.push({ elevation: 'el-6', revokedAt: now, seq: 6 });
    await policy.syncRevocations();
    expect(policy.isRevoked('el-6')).toBe(true);
  });

  it('refuses a feed page signed with another key and keeps what it knew', async () => {
    fake.state.revocations = [
      { elevation: 'el-1', revokedAt: Math.floor(Date.now() / 1000), seq: 1 },
    ];
    const policy = start();
    await policy.ready();
    fake.state.feedKey = await makeKey(fake.key.kid);
    fake.state.revocations.push({
      elevation: 'el-2',
      revokedAt: Math.floor(Date.now() / 1000),
      seq: 2,
    });
    await expect(policy.syncRevocations()).rejects.toMatchObject({ code: 'ERR_POLICY_SIGNATURE' });
    expect(policy.isRevoked('el-1')).toBe(true);
    expect(policy.isRevoked('el-2')).toBe(false);
  });

  it('forgets revocations whose tokens can no longer be valid and bounds the set', async () => {
    const now = Math.floor(Date.now() / 1000);
    fake.state.revocations = [
      { elevation: 'ancient', revokedAt: now - 2 * 86_400, seq: 1 },
      ...[2, 3, 4].map((seq) => ({ elevation: `el-${seq}`, revokedAt: now, seq })),
    ];
    const policy = start({ maxRevoked: 2 });
    await policy.ready();
    expect(policy.isRevoked('ancient')).toBe(false);
    expect(policy.stats().revoked).toBe(2);
    expect(policy.isRevoked('el-4')).toBe(true);
  });

  it('refuses every elevation once the feed is staler than revocationMaxStalenessMs', async () => {
    let clock = Date.now();
    const policy = start({ revocationMaxStalenessMs: 30_000, currentDate: () => new Date(clock) });
    await policy.ready();
    expect(policy.isRevoked('el-1')).toBe(false);
    clock += 31_000;
    expect(policy.isRevoked('el-1')).toBe(true);
  });

  it('feeds the token verifier: a revoked elevation is refused even from the verified-token cache', async () => {
    const policy = start();
    await policy.ready();
    const verifier = createTokenVerifier({
      issuer: fake.issuer,
      resource: RESOURCE,
      isRevoked: policy.isRevoked,
    });
    const token = await new SignJWT({
      client_id: 'agent',
      scope: 'mcp:tools:read mcp:deploy:staging',
      roles: ['developer'],
      elevation: 'el-9',
    })
      .setProtectedHeader({ alg: 'ES256', kid: fake.key.kid, typ: 'at+jwt' })
      .setIssuer(fake.issuer)
      .setAudience(RESOURCE)
      .setSubject('dev-1')
      .setIssuedAt()
      .setExpirationTime('10m')
      .sign(fake.key.privateKey);
    await expect(verifier.verify(token)).resolves.toMatchObject({ elevation: 'el-9' });
    fake.state.revocations = [
      { elevation: 'el-9', revokedAt: Math.floor(Date.now() / 1000), seq: 1 },
    ];
    await policy.syncRevocations();
    await expect(verifier.verify(token)).rejects.toMatchObject({
      code: 'invalid_token',
      description: 'elevation revoked',
    });
  });
});

describe('policy client with a local file', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mcpe-policy-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('decides from the file, with the default roles, and never asks the server for a bundle', async () => {
    const file = join(dir, 'policy.json');
    await writeFile(
      file,
      JSON.stringify({ catalogue: { $schema: './scopes.schema.json', ...CATALOGUE } }),
    );
    const before = fake.state.counts.bundle200 + fake.state.counts.bundle304;
    const policy = start({ localBundle: file });
    await policy.ready();
    expect(policy.stats()).toMatchObject({ policySource: 'file' });
    expect(await policy.decide(developer(), deploy('staging'))).toEqual({
      decision: 'step_up',
      scopes: ['mcp:deploy:staging'],
    });
    expect(await policy.decide(developer(), deploy('production'))).toMatchObject({
      decision: 'deny',
      requiredRole: 'senior_developer',
    });
    await policy.refresh();
    expect(fake.state.counts.bundle200 + fake.state.counts.bundle304).toBe(before);
  });

  it('rejects ready() for a file that is missing or not a valid policy', async () => {
    await expect(start({ localBundle: join(dir, 'absent.json') }).ready()).rejects.toMatchObject({
      code: 'ERR_POLICY_FETCH',
    });
    await client!.close();
    const file = join(dir, 'bad.json');
    const bad = {
      ...CATALOGUE,
      scopes: {
        ...CATALOGUE.scopes,
        'mcp:deploy:staging': { ...CATALOGUE.scopes['mcp:deploy:staging']!, minRole: 'nobody' },
      },
    };
    await writeFile(file, JSON.stringify({ catalogue: bad }));
    await expect(start({ localBundle: file }).ready()).rejects.toMatchObject({
      code: 'ERR_POLICY_INVALID',
    });
  });

  it('refuses a revocation poll interval over 10 s as a caller mistake', () => {
    expect(() => createPolicyClient({ issuer: fake.issuer, revocationPollMs: 11_000 })).toThrow(
      TypeError,
    );
  });
});
