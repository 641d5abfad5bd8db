import {
  SignJWT,
  createLocalJWKSet,
  decodeJwt,
  decodeProtectedHeader,
  importJWK,
  jwtVerify,
  type JSONWebKeySet,
  type JWK,
} from 'jose';

/**
 * Signed checkpoints of the audit chain (a compact JWS, as a JWT). Claims:
 * - `iss`: the server's issuer;
 * - `iat`: when it was signed (seconds);
 * - `n`: the checkpoint's number, 1, 2, 3 … across every instance of the server;
 * - `seq`, `hash`: the chain head it covers: `seq` of the last event and that event's hash.
 *
 * Protected header: `alg` ES256, `kid` of the audit key, `typ` {@link CHECKPOINT_TYP}.
 * @module
 */

/** The JWS `typ` of a checkpoint; a JWS of any other type (a token, say) is never one. */
export const CHECKPOINT_TYP = 'audit-checkpoint+jwt';

/** A checkpoint's claims. */
export interface Checkpoint {
  iss: string;
  iat: number;
  n: number;
  seq: number;
  hash: string;
}

/** A checkpoint that verified, with where it came from. */
export interface VerifiedCheckpoint extends Checkpoint {
  kid: string;
  jws: string;
  /** Its position in the source (0-based): the line of a file, the item of a list. */
  index: number;
}

/** A checkpoint that was refused, and why. */
export interface RefusedCheckpoint {
  index: number;
  /** What it claims to cover, when it could be read at all. */
  n?: number;
  seq?: number;
  reason: string;
}

/** Signs a checkpoint with an audit private key (ES256 JWK with `kid`). */
export async function signCheckpoint(
  key: JWK & { kid: string },
  claims: Omit<Checkpoint, 'iat'> & { iat?: number },
): Promise<string> {
  const { iss, iat, ...rest } = claims;
  const jwt = new SignJWT({ ...rest })
    .setProtectedHeader({ alg: 'ES256', kid: key.kid, typ: CHECKPOINT_TYP })
    .setIssuer(iss);
  if (iat !== undefined) jwt.setIssuedAt(iat);
  else jwt.setIssuedAt();
  return jwt.sign(await importJWK(key, 'ES256'));
}

const isCount = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;

function unverifiedClaims(jws: string): Partial<Checkpoint> {
  try {
    const c = decodeJwt(jws) as Record<string, unknown>;
    return {
      ...(isCount(c.n) ? { n: c.n } : {}),
      ...(isCount(c.seq) ? { seq: c.seq } : {}),
    };
  } catch {
    return {};
  }
}

/**
 * Verifies checkpoints in the order of their source. Rules, in order, for each one:
 * - its signature verifies with a key of `jwks` (its `kid`), ES256, `typ` {@link CHECKPOINT_TYP}:
 *   else refused ("signed by another key" or "bad signature");
 * - its claims are well formed (`n` ≥ 1, `seq` ≥ 0, `hash` 64 hex digits, `iat`), and its `iss`
 *   is `issuer` when one is given, else the `iss` of the first accepted one;
 * - it is newer than every one accepted before it in the source: higher `n`, `seq` not lower.
 *   An older checkpoint replayed as the latest is refused.
 */
export async function verifyCheckpoints(
  list: readonly string[],
  jwks: JSONWebKeySet,
  issuer?: string,
): Promise<{ accepted: VerifiedCheckpoint[]; refused: RefusedCheckpoint[] }> {
  const keys = createLocalJWKSet(jwks);
  const kids = new Set(jwks.keys.map((k) => k.kid));
  const accepted: VerifiedCheckpoint[] = [];
  const refused: RefusedCheckpoint[] = [];
  let iss = issuer;
  for (const [index, jws] of list.entries()) {
    const refuse = (reason: string) => refused.push({ index, ...unverifiedClaims(jws), reason });
    let kid: string | undefined;
    let claims: Record<string, unknown>;
    try {
      kid = decodeProtectedHeader(jws).kid;
      ({ payload: claims } = await jwtVerify(jws, keys, {
        algorithms: ['ES256'],
        typ: CHECKPOINT_TYP,
      }));
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (code === 'ERR_JWKS_NO_MATCHING_KEY' || (kid !== undefined && !kids.has(kid)))
        refuse(`signed by another key (kid ${String(kid ?? 'none').slice(0, 64)})`);
      else if (code === 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED')
        refuse('its signature does not verify');
      else refuse(`not a checkpoint (${code ?? 'unreadable'})`);
      continue;
    }
    const { n, seq, hash, iat } = claims;
    if (
      !isCount(n) ||
      n < 1 ||
      !isCount(seq) ||
      typeof hash !== 'string' ||
      !/^[0-9a-f]{64}$/.test(hash) ||
      !isCount(iat) ||
      typeof claims.iss !== 'string'
    ) {
      refuse('malformed claims');
      continue;
    }
    if (iss !== undefined && claims.iss !== iss) {
      refuse(`issued by ${claims.iss.slice(0, 200)}, not ${iss}`);
      continue;
    }
    const last = accepted.at(-1);
    // Not by `iat`: instances' clocks may differ by a little.
    if (last && (n <= last.n || seq < last.seq)) {
      refuse(`checkpoint ${n} (seq ${seq}) is older than checkpoint ${last.n} before it: replayed`);
      continue;
    }
    iss = claims.iss;
    accepted.push({ iss: claims.iss, iat, n, seq, hash, kid: kid!, jws, index });
  }
  return { accepted, refused };
}
