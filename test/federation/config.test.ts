import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  federationJsonSchema,
  loadFederation,
  type Upstream,
} from '../../src/federation/config.ts';
import { mappedAccess } from '../../src/federation/mapping.ts';
import { parseOutboundAllow } from '../../src/config/outbound-allow.ts';
import { loadConfig } from '../../src/config/env.ts';

const checks = {
  roles: ['viewer', 'developer', 'admin'],
  groups: ['sre-oncall'],
  outboundAllow: parseOutboundAllow('idp.internal'),
  env: { OKTA_SECRET: 's3cret' },
};

describe('the federation file', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mcpe-fedcfg-'));
  });
  afterAll(async () => rm(dir, { recursive: true, force: true }));

  const load = async (content: unknown, required = true) => {
    const file = join(dir, `f${Math.random()}.json`);
    await writeFile(file, typeof content === 'string' ? content : JSON.stringify(content));
    return loadFederation({ file, required }, checks);
  };
  const okta = {
    id: 'okta',
    name: 'Okta',
    issuer: 'https://example.okta.com',
    clientId: 'abc',
    clientSecretEnv: 'OKTA_SECRET',
    rules: [{ claim: 'groups', equals: 'eng', roles: ['developer'], groups: ['sre-oncall'] }],
  };

  it('applies the defaults and resolves the secret from the environment', async () => {
    const [u] = (await load({ upstreams: [okta] })) as Upstream[];
    expect(u).toMatchObject({
      scopes: ['openid', 'email', 'profile'],
      claims: { email: 'email', name: 'name', groups: 'groups' },
      allowLinking: false,
      clientSecret: 's3cret',
    });
    expect(u).not.toHaveProperty('clientSecretEnv');
  });

  it('is optional at its default path and required where it was set', async () => {
    const missing = join(dir, 'absent.json');
    expect(await loadFederation({ file: missing, required: false }, checks)).toEqual([]);
    await expect(loadFederation({ file: missing, required: true }, checks)).rejects.toThrow(
      `FEDERATION_FILE ${missing}: file not found`,
    );
    expect(loadConfig({}).federation).toEqual({ file: './federation.json', required: false });
    expect(loadConfig({ FEDERATION_FILE: '/etc/f.json' }).federation.required).toBe(true);
  });

  it.each([
    ['not JSON', '{', /not valid JSON/],
    [
      'an unknown key',
      { upstreams: [{ ...okta, colour: 'red' }] },
      /upstreams\[0\]\.colour: unknown key/,
    ],
    [
      'a bad id',
      { upstreams: [{ ...okta, id: 'Okta/1' }] },
      /upstreams\[0\]\.id: must be lower-case/,
    ],
    ['duplicate ids', { upstreams: [okta, okta] }, /ids must be unique/],
    ['both secrets', { upstreams: [{ ...okta, clientSecret: 'x' }] }, /not both/],
    ['no openid scope', { upstreams: [{ ...okta, scopes: ['email'] }] }, /must include "openid"/],
    [
      'an unset secret variable',
      { upstreams: [{ ...okta, clientSecretEnv: 'NOPE' }] },
      /NOPE is not set/,
    ],
    [
      'a plain http issuer',
      { upstreams: [{ ...okta, issuer: 'http://idp.example' }] },
      /must be https/,
    ],
    [
      'an unknown role',
      { upstreams: [{ ...okta, rules: [{ claim: 'groups', equals: 'x', roles: ['wizard'] }] }] },
      /rules\[0\]\.roles: unknown role "wizard"/,
    ],
  ])('refuses %s with one line naming the problem', async (_what, content, message) => {
    const err = await load(content).catch((e: Error) => e);
    expect(err).toMatchObject({ code: 'ERR_FEDERATION_CONFIG' });
    expect((err as Error).message).toMatch(message);
    expect((err as Error).message).not.toContain('\n');
  });

  it('accepts http for an issuer host admitted by OUTBOUND_ALLOW', async () => {
    const [u] = await load({ upstreams: [{ ...okta, issuer: 'http://idp.internal:8080' }] });
    expect(u!.issuer).toBe('http://idp.internal:8080');
  });

  it('comes with a federation.schema.json that matches the zod schema (run scripts/generate-federation-schema.ts)', () => {
    const committed = JSON.parse(
      readFileSync(new URL('../../federation.schema.json', import.meta.url), 'utf8'),
    );
    expect(committed).toEqual(federationJsonSchema());
  });
});

describe('the mapping rules', () => {
  const rules = {
    rules: [
      { claim: 'groups', equals: 'eng', roles: ['developer'], groups: [] },
      { claim: 'groups', equals: 'sre', roles: ['developer'], groups: ['sre-oncall'] },
      { claim: 'hd', equals: 'corp.example', roles: ['viewer'], groups: [] },
      { claim: 'admin', equals: true, roles: ['admin'], groups: [] },
    ],
  };

  it.each([
    ['a list claim containing the value', { groups: ['eng'] }, ['developer'], []],
    [
      'several rules adding up, without duplicates',
      { groups: ['eng', 'sre'], hd: 'corp.example' },
      ['developer', 'viewer'],
      ['sre-oncall'],
    ],
    ['a plain claim equal to the value', { hd: 'corp.example' }, ['viewer'], []],
    ['a boolean claim', { admin: true }, ['admin'], []],
    ['a string that only looks like the boolean', { admin: 'true' }, [], []],
    ['a missing claim', {}, [], []],
    ['a claim that only contains the value as text', { groups: 'engineering' }, [], []],
  ])('grants by %s', (_what, claims, roles, groups) => {
    expect(mappedAccess(rules, claims)).toEqual({ roles, groups });
  });
});
