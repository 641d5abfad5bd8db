import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, SignJWT } from 'jose';
import { createHash } from 'node:crypto';
import { connect } from 'node:net';
import { createTokenVerifier } from '../../../src/verifier/token/verifier.ts';
import { signAccessToken, startIssuer, type TestIssuer } from '../token/fixtures.ts';
import { DEFAULT_DPOP_ALGS, send, startGuardedServer, type Started } from './fixtures.ts';

let issuer: TestIssuer;
let mcp: Started & { reached: () => number };
let resource: string;

beforeAll(async () => {
  issuer = await startIssuer();
  mcp = await startGuardedServer((base) => ({
    verifier: createTokenVerifier({ issuer: issuer.issuer, resource: `${base}/mcp` }),
  }));
  resource = `${mcp.url}/mcp`;
});
afterAll(async () => {
  await mcp.close();
  await issuer.close();
});

/**
 * The status line and body of the answer to a request with exactly these header lines, sent as
 * written (`target` may be absolute-form or no URL at all).
 */
async function rawGet(lines: string[], target = new URL(resource).pathname) {
  const socket = connect(Number(new URL(resource).port), '127.0.0.1');
  // Written, not ended: the server answers `Connection: close` and closes the connection.
  socket.write(
    [
      `GET ${target} HTTP/1.1`,
      `Host: ${new URL(resource).host}`,
      'Connection: close',
      ...lines,
      '',
      '',
    ].join('\r\n'),
  );
  let text = '';
  for await (const chunk of socket) text += String(chunk);
  return { status: text.split('\r\n')[0], body: text.slice(text.indexOf('\r\n\r\n') + 4) };
}

const withAuthorization = (
  authorization: string | string[],
  extra: Record<string, string | string[]> = {},
) => send(resource, { headers: { Authorization: authorization, ...extra } });

describe('reading the Authorization header', () => {
  it('accepts the scheme name in any case', async () => {
    const token = await signAccessToken(issuer, { aud: resource });
    for (const scheme of ['Bearer', 'bearer', 'BEARER']) {
      expect((await withAuthorization(`${scheme} ${token}`)).status).toBe(200);
    }
  });

  it('refuses two Authorization headers with 400 invalid_request', async () => {
    const token = await signAccessToken(issuer, { aud: resource });
    const reply = await withAuthorization([`Bearer ${token}`, `Bearer ${token}`]);
    expect(reply.status).toBe(400);
    expect(reply.json()).toEqual({
      error: 'invalid_request',
      error_description: 'multiple Authorization headers',
    });
    expect(reply.headers['www-authenticate']).toMatch(/^Bearer error="invalid_request"/);
  });

  it('refuses a scheme without a token, and extra parts, with 400 invalid_request', async () => {
    for (const header of ['Bearer', 'Bearer  ', 'Bearer a.b.c extra']) {
      const reply = await withAuthorization(header);
      expect(reply.status, header).toBe(400);
      expect(reply.json().error).toBe('invalid_request');
    }
  });

  it('treats another scheme as no credentials: 401 without an error code', async () => {
    const reply = await withAuthorization('Basic dXNlcjpwYXNz');
    expect(reply.status).toBe(401);
    const metadata = `${mcp.url}/.well-known/oauth-protected-resource/mcp`;
    expect(reply.headers['www-authenticate']).toBe(
      `Bearer resource_metadata="${metadata}", DPoP algs="${DEFAULT_DPOP_ALGS}", resource_metadata="${metadata}"`,
    );
  });

  it('refuses a token outside the b64token alphabet with 401 invalid_token', async () => {
    const reply = await withAuthorization('Bearer {"alg":"none"}');
    expect(reply.status).toBe(401);
    expect(reply.json().error).toBe('invalid_token');
  });

  it('refuses two DPoP headers with 400 invalid_request', async () => {
    const token = await signAccessToken(issuer, { aud: resource });
    const reply = await withAuthorization(`DPoP ${token}`, { DPoP: ['a.b.c', 'd.e.f'] });
    expect(reply.status).toBe(400);
    expect(reply.json().error_description).toBe('multiple DPoP headers');
  });

  it('sees a repeated Authorization or DPoP header whatever the case of its names', async () => {
    const token = await signAccessToken(issuer, { aud: resource });
    const twice = await rawGet([
      `authorization: Bearer ${token}`,
      `AUTHORIZATION: Bearer ${token}`,
    ]);
    expect(twice.status).toBe('HTTP/1.1 400 Bad Request');
    expect(twice.body).toContain('multiple Authorization headers');
    const proofs = await rawGet([`Authorization: DPoP ${token}`, 'dpop: a.b.c', 'DPOP: d.e.f']);
    expect(proofs.status).toBe('HTTP/1.1 400 Bad Request');
    expect(proofs.body).toContain('multiple DPoP headers');
    // Once each, in any case, is read as usual.
    expect((await rawGet([`aUtHoRiZaTiOn: Bearer ${token}`])).status).toBe('HTTP/1.1 200 OK');
  });

  it('accepts a DPoP-bound token with a proof for the public URL of the request', async () => {
    const { privateKey, publicKey } = await generateKeyPair('ES256');
    const jwk = await exportJWK(publicKey);
    const token = await signAccessToken(issuer, {
      aud: resource,
      cnf: { jkt: await calculateJwkThumbprint(jwk) },
    });
    const proof = await new SignJWT({
      htm: 'GET',
      htu: resource,
      ath: createHash('sha256').update(token).digest('base64url'),
      iat: Math.floor(Date.now() / 1000),
      jti: crypto.randomUUID(),
    })
      .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk })
      .sign(privateKey);
    const reply = await send(`${resource}?x=1`, {
      headers: { Authorization: `DPoP ${token}`, DPoP: proof },
    });
    expect(reply.status).toBe(200);
    expect(reply.json().auth.extra.jkt).toBe(await calculateJwkThumbprint(jwk));
  });

  it('checks a DPoP proof against the path sent on the resource origin, never the host a target names', async () => {
    const { privateKey, publicKey } = await generateKeyPair('ES256');
    const jwk = await exportJWK(publicKey);
    const token = await signAccessToken(issuer, {
      aud: resource,
      cnf: { jkt: await calculateJwkThumbprint(jwk) },
    });
    const proofFor = (htu: string) =>
      new SignJWT({
        htm: 'GET',
        htu,
        ath: createHash('sha256').update(token).digest('base64url'),
        iat: Math.floor(Date.now() / 1000),
        jti: crypto.randomUUID(),
      })
        .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk })
        .sign(privateKey);
    const { pathname } = new URL(resource);
    const credentials = async (htu: string) => [
      `Authorization: DPoP ${token}`,
      `DPoP: ${await proofFor(htu)}`,
    ];
    // An absolute-form target (RFC 9112 §3.2.2) naming another host, and a proof made for it.
    const elsewhere = await rawGet(
      await credentials(`http://evil.example${pathname}`),
      `http://evil.example${pathname}`,
    );
    expect(elsewhere.status).toBe('HTTP/1.1 401 Unauthorized');
    expect(elsewhere.body).toContain('invalid_dpop_proof');
    // The same target with a proof for the resource: its path is what was addressed.
    const here = await rawGet(await credentials(resource), `http://evil.example${pathname}`);
    expect(here.status).toBe('HTTP/1.1 200 OK');
    // Targets that are no URL, or a path that resolves to another host: refused, never a 500.
    for (const target of [
      'http://localhost:99999/mcp',
      'http://[zz]/mcp',
      `//evil.example${pathname}`,
    ]) {
      const reply = await rawGet(await credentials(`http://evil.example${pathname}`), target);
      expect(reply.status, target).toBe('HTTP/1.1 401 Unauthorized');
    }
  });

  it('answers 503 with Retry-After when the issuer keys were never obtainable', async () => {
    const down = await startGuardedServer((base) => ({
      verifier: createTokenVerifier({
        issuer: 'http://127.0.0.1:9',
        resource: `${base}/mcp`,
        fetchTimeoutMs: 500,
      }),
    }));
    try {
      const token = await signAccessToken(issuer, {
        aud: `${down.url}/mcp`,
        iss: 'http://127.0.0.1:9',
      });
      const reply = await send(`${down.url}/mcp`, {
        headers: { Authorization: `Bearer ${token}` },
      });
      expect(reply.status).toBe(503);
      expect(reply.headers['retry-after']).toBe('5');
      expect(reply.json().error).toBe('temporarily_unavailable');
      expect(down.reached()).toBe(0);
    } finally {
      await down.close();
    }
  });
});
