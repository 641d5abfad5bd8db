import { createHash } from 'node:crypto';
import {
  calculateJwkThumbprint,
  exportJWK,
  generateKeyPair,
  SignJWT,
  type CryptoKey,
  type JWK,
} from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  InsufficientScopeError,
  InvalidDpopProofError,
  InvalidRequestError,
  InvalidTokenError,
  MissingTokenError,
} from '../../../src/verifier/errors.ts';
import { challenge, type ChallengeOptions } from '../../../src/verifier/http/challenge.ts';
import { createTokenVerifier } from '../../../src/verifier/token/verifier.ts';
import { signAccessToken, startIssuer, type TestIssuer } from '../token/fixtures.ts';
import { postJsonRpc, send, startGuardedServer, type Started } from './fixtures.ts';

const META = 'https://r/.well-known/oauth-protected-resource/mcp';
const both: ChallengeOptions = { resourceMetadataUrl: META, dpopAlgorithms: ['ES256', 'EdDSA'] };
const header = (error: unknown, options: ChallengeOptions = both, scheme?: 'bearer' | 'dpop') =>
  challenge(error, options, { scheme }).headers['WWW-Authenticate'];

describe('DPoP challenges (RFC 9449 §7.1)', () => {
  it('offers both schemes, Bearer first, to a request without a token', () => {
    expect(header(new MissingTokenError())).toBe(
      `Bearer resource_metadata="${META}", DPoP algs="ES256 EdDSA", resource_metadata="${META}"`,
    );
  });

  it('answers a bad Bearer token with the Bearer error and still offers DPoP', () => {
    expect(header(new InvalidTokenError('token expired'), both, 'bearer')).toBe(
      `Bearer error="invalid_token", error_description="token expired", resource_metadata="${META}", DPoP algs="ES256 EdDSA", resource_metadata="${META}"`,
    );
  });

  it('answers a bad proof with the DPoP scheme alone and invalid_dpop_proof', () => {
    const response = challenge(new InvalidDpopProofError('invalid DPoP proof: replayed'), both, {
      scheme: 'dpop',
    });
    expect(response.status).toBe(401);
    expect(response.headers['WWW-Authenticate']).toBe(
      `DPoP error="invalid_dpop_proof", error_description="invalid DPoP proof: replayed", algs="ES256 EdDSA", resource_metadata="${META}"`,
    );
    expect(response.body).toEqual({
      error: 'invalid_dpop_proof',
      error_description: 'invalid DPoP proof: replayed',
    });
  });

  it('answers any failure of a request made with the DPoP scheme with the DPoP scheme', () => {
    expect(header(new InvalidTokenError('token expired'), both, 'dpop')).toBe(
      `DPoP error="invalid_token", error_description="token expired", algs="ES256 EdDSA", resource_metadata="${META}"`,
    );
    expect(
      challenge(new InvalidRequestError('multiple DPoP headers'), both, { scheme: 'dpop' }).headers[
        'WWW-Authenticate'
      ],
    ).toMatch(/^DPoP error="invalid_request", /);
  });

  it('answers a DPoP-bound token sent as Bearer with the DPoP scheme', () => {
    const error = new InvalidTokenError('DPoP-bound token requires the DPoP scheme', {
      dpop: true,
    });
    expect(header(error, both, 'bearer')).toMatch(
      /^DPoP error="invalid_token", error_description="DPoP-bound token requires the DPoP scheme", algs=/,
    );
  });

  it('challenges a step-up of a DPoP-bound token with the DPoP scheme', () => {
    const error = new InsufficientScopeError(['deploy:prod'], 'needs more', { dpop: true });
    expect(header(error, { ...both, baseScopes: ['mcp:read'] })).toBe(
      `DPoP error="insufficient_scope", scope="mcp:read deploy:prod", algs="ES256 EdDSA", resource_metadata="${META}"`,
    );
  });

  it('keeps to the Bearer scheme when the resource takes no DPoP', () => {
    const bearerOnly = { resourceMetadataUrl: META };
    expect(header(new MissingTokenError(), bearerOnly)).toBe(`Bearer resource_metadata="${META}"`);
    expect(
      header(new InvalidDpopProofError('invalid DPoP proof: replayed'), bearerOnly, 'dpop'),
    ).toMatch(/^Bearer error="invalid_dpop_proof"/);
  });

  it('drops algorithm names that could break out of the algs parameter', () => {
    expect(
      header(new MissingTokenError(), {
        resourceMetadataUrl: META,
        dpopAlgorithms: ['ES256", error="x\r\n'],
      }),
    ).toBe(
      `Bearer resource_metadata="${META}", DPoP algs="ES256\\", error=\\"x", resource_metadata="${META}"`,
    );
  });
});

interface Holder {
  privateKey: CryptoKey;
  jwk: JWK;
  jkt: string;
}

describe('DPoP challenges from a listening protected server', () => {
  let issuer: TestIssuer;
  let mcp: Started;
  let resource: string;
  let metadata: string;
  let holder: Holder;

  beforeAll(async () => {
    issuer = await startIssuer();
    mcp = await startGuardedServer((base) => ({
      verifier: createTokenVerifier({
        issuer: issuer.issuer,
        resource: `${base}/mcp`,
        dpopAlgorithms: ['ES256', 'PS256'],
      }),
      baseScopes: ['mcp:read'],
      decide: (_auth, call) =>
        call.name === 'deploy'
          ? { decision: 'step_up', scopes: ['deploy:prod'] }
          : { decision: 'allow' },
    }));
    resource = `${mcp.url}/mcp`;
    metadata = `${mcp.url}/.well-known/oauth-protected-resource/mcp`;
    const { privateKey, publicKey } = await generateKeyPair('ES256');
    const jwk = await exportJWK(publicKey);
    holder = { privateKey, jwk, jkt: await calculateJwkThumbprint(jwk) };
  });
  afterAll(async () => {
    await mcp.close();
    await issuer.close();
  });

  const proof = (token: string, method = 'POST') =>
    new SignJWT({
      htm: method,
      htu: resource,
      ath: createHash('sha256').update(token).digest('base64url'),
      iat: Math.floor(Date.now() / 1000),
      jti: crypto.randomUUID(),
    })
      .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk: holder.jwk })
      .sign(holder.privateKey);
  const call = (name: string) => ({
    jsonrpc: '2.0',
    id: 1,
    method: 'tools/call',
    params: { name, arguments: {} },
  });

  it('advertises the accepted proof algorithms in its metadata', async () => {
    const reply = await send(metadata);
    expect(reply.json().dpop_signing_alg_values_supported).toEqual(['ES256', 'PS256']);
  });

  it('offers Bearer and DPoP to a request without a token', async () => {
    const reply = await send(resource);
    expect(reply.status).toBe(401);
    expect(reply.headers['www-authenticate']).toBe(
      `Bearer resource_metadata="${metadata}", DPoP algs="ES256 PS256", resource_metadata="${metadata}"`,
    );
  });

  it('refuses a replayed proof with 401 DPoP invalid_dpop_proof', async () => {
    const token = await signAccessToken(issuer, { aud: resource, cnf: { jkt: holder.jkt } });
    const once = await proof(token);
    const headers = { Authorization: `DPoP ${token}`, DPoP: once };
    expect((await postJsonRpc(resource, undefined, call('list'), headers)).status).toBe(200);
    const replay = await postJsonRpc(resource, undefined, call('list'), headers);
    expect(replay.status).toBe(401);
    expect(replay.headers['www-authenticate']).toBe(
      `DPoP error="invalid_dpop_proof", error_description="invalid DPoP proof: replayed", algs="ES256 PS256", resource_metadata="${metadata}"`,
    );
  });

  it('refuses a DPoP-bound token sent as Bearer with a DPoP challenge', async () => {
    const token = await signAccessToken(issuer, { aud: resource, cnf: { jkt: holder.jkt } });
    const reply = await postJsonRpc(resource, token, call('list'), { DPoP: await proof(token) });
    expect(reply.status).toBe(401);
    expect(reply.headers['www-authenticate']).toMatch(
      /^DPoP error="invalid_token", error_description="DPoP-bound token requires the DPoP scheme", algs="ES256 PS256"/,
    );
  });

  it('refuses an expired token sent with the DPoP scheme with a DPoP challenge', async () => {
    const nowSec = Math.floor(Date.now() / 1000);
    const token = await signAccessToken(issuer, {
      aud: resource,
      cnf: { jkt: holder.jkt },
      iat: nowSec - 600,
      exp: nowSec - 300,
    });
    const reply = await postJsonRpc(resource, undefined, call('list'), {
      Authorization: `DPoP ${token}`,
      DPoP: await proof(token),
    });
    expect(reply.status).toBe(401);
    expect(reply.headers['www-authenticate']).toMatch(
      /^DPoP error="invalid_token", error_description="token expired", algs=/,
    );
  });

  it('challenges a step-up of a DPoP-bound token with the DPoP scheme and the scopes', async () => {
    const token = await signAccessToken(issuer, { aud: resource, cnf: { jkt: holder.jkt } });
    const reply = await postJsonRpc(resource, undefined, call('deploy'), {
      Authorization: `DPoP ${token}`,
      DPoP: await proof(token),
    });
    expect(reply.status).toBe(403);
    expect(reply.headers['www-authenticate']).toBe(
      `DPoP error="insufficient_scope", scope="mcp:read deploy:prod", algs="ES256 PS256", resource_metadata="${metadata}"`,
    );
  });

  it('keeps the Bearer step-up challenge first for a Bearer token', async () => {
    const token = await signAccessToken(issuer, { aud: resource });
    const reply = await postJsonRpc(resource, token, call('deploy'));
    expect(reply.status).toBe(403);
    expect(reply.headers['www-authenticate']).toBe(
      `Bearer error="insufficient_scope", scope="mcp:read deploy:prod", resource_metadata="${metadata}"`,
    );
  });
});
