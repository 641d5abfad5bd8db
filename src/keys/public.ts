import type { JSONWebKeySet } from 'jose';
import type { PrivateJwk } from './keystore.ts';

/** The public halves of the signing keys, as published at the JWKS endpoint. */
export function publicJwks(keys: PrivateJwk[]): JSONWebKeySet {
  return {
    keys: keys.map(({ kty, crv, x, y, kid, alg, use }) => ({
      kty,
      crv,
      x,
      y,
      kid,
      alg,
      use,
    })) as JSONWebKeySet['keys'],
  };
}
