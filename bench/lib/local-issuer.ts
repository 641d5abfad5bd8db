import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  calculateJwkThumbprint,
  exportJWK,
  generateKeyPair,
  SignJWT,
  type JSONWebKeySet,
  type JWTPayload,
} from 'jose';

/** A stand-in authorization server on loopback: RFC 8414 metadata and a JWKS, plus the signing key. */
export interface LocalIssuer {
  issuer: string;
  /** The public key set the metadata points at. */
  jwks: JSONWebKeySet;
  /** Signs an RFC 9068 access token (`typ: at+jwt`, ES256, our `kid`) with these claims. */
  sign(claims: JWTPayload): Promise<string>;
  close(): Promise<void>;
}

/** Serves `/.well-known/oauth-authorization-server` and `/jwks` on 127.0.0.1 with a fresh ES256 key. */
export async function startLocalIssuer(): Promise<LocalIssuer> {
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
  const publicJwk = await exportJWK(publicKey);
  const kid = await calculateJwkThumbprint(publicJwk);
  const jwks: JSONWebKeySet = { keys: [{ ...publicJwk, kid, alg: 'ES256', use: 'sig' }] };

  let issuer = '';
  const server = createServer((req, res) => {
    const documents: Record<string, unknown> = {
      '/.well-known/oauth-authorization-server': { issuer, jwks_uri: `${issuer}/jwks` },
      '/jwks': jwks,
    };
    const body = documents[req.url ?? ''];
    res.writeHead(body ? 200 : 404, { 'content-type': 'application/json' });
    res.end(body ? JSON.stringify(body) : '{}');
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    issuer,
    jwks,
    sign: (claims) =>
      new SignJWT(claims)
        .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid })
        .setIssuer(issuer)
        .setIssuedAt()
        .sign(privateKey),
    async close() {
      server.close();
      server.closeAllConnections();
      await once(server, 'close');
    },
  };
}
