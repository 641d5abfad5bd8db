import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { jwtVerify } from 'jose';
import { z } from 'zod';
import {
  buildRoleGraph,
  canonicalJson,
  CatalogueSchema,
  DEFAULT_ROLES,
  RoleSchema,
  validateCatalogue,
  type Catalogue,
  type Role,
  type RoleGraph,
} from '../../policy/index.ts';
import { TemporarilyUnavailableError } from '../errors.ts';
import type { KeyResolver } from '../token/jwks.ts';
import type { FetchLike } from '../token/options.ts';
import { PolicyClientError } from './errors.ts';
import { fetchText, issuerUrl } from './fetch-text.ts';

/** A verified, parsed policy: what decisions are made with. */
export interface Policy {
  /** The bundle's `version` (a hash of its content), or the SHA-256 of the local file's policy. */
  readonly version: string;
  /** Where it came from. */
  readonly source: 'bundle' | 'file';
  /** The bundle's `iat`; undefined for a local file. */
  readonly issuedAt?: Date;
  readonly catalogue: Catalogue;
  readonly roles: RoleGraph;
}

/** JWS `typ` of the bundle (served by `GET /policy/v1/bundle`). */
export const POLICY_BUNDLE_TYP = 'policy+jwt';
/** Path of the bundle below the issuer. */
export const POLICY_BUNDLE_PATH = '/policy/v1/bundle';

const BundlePayloadSchema = z.object({
  iat: z.number(),
  version: z.string().min(1),
  catalogue: CatalogueSchema,
  roles: z.array(RoleSchema),
});

const LocalBundleSchema = z.strictObject({
  catalogue: CatalogueSchema,
  roles: z.array(RoleSchema).optional(),
});

/**
 * Builds a {@link Policy} from parsed parts. Rules: the role set is a valid graph (unique names,
 * known parents, no cycle) and the catalogue is consistent with it (`validateCatalogue`).
 */
function toPolicy(
  catalogue: Catalogue,
  roles: readonly Role[],
  meta: Pick<Policy, 'version' | 'source' | 'issuedAt'>,
): Policy {
  let graph: RoleGraph;
  try {
    graph = buildRoleGraph(roles);
  } catch (cause) {
    throw new PolicyClientError('ERR_POLICY_INVALID', 'policy roles are invalid', { cause });
  }
  const issues = validateCatalogue(catalogue, graph.roles.keys());
  if (issues.length > 0)
    throw new PolicyClientError(
      'ERR_POLICY_INVALID',
      `policy catalogue is invalid: ${issues.join('; ')}`,
    );
  return Object.freeze({ ...meta, catalogue, roles: graph });
}

function invalid(error: z.ZodError, what: string): PolicyClientError {
  const first = error.issues[0];
  return new PolicyClientError(
    'ERR_POLICY_INVALID',
    `${what}: ${first?.path.join('.') ?? ''} ${first?.message ?? 'invalid'}`.trim(),
  );
}

/**
 * Reads a local policy file `{ catalogue, roles? }` (roles default to `DEFAULT_ROLES`).
 * @throws PolicyClientError `ERR_POLICY_FETCH` when unreadable, `ERR_POLICY_INVALID` when invalid.
 */
export async function loadLocalBundle(path: string): Promise<Policy> {
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(path, 'utf8'));
  } catch (cause) {
    throw new PolicyClientError('ERR_POLICY_FETCH', `cannot read policy file ${path}`, { cause });
  }
  const parsed = LocalBundleSchema.safeParse(raw);
  if (!parsed.success) throw invalid(parsed.error, `policy file ${path}`);
  const roles = parsed.data.roles ?? DEFAULT_ROLES;
  const version = createHash('sha256')
    .update(canonicalJson({ catalogue: parsed.data.catalogue, roles }))
    .digest('hex');
  return toPolicy(parsed.data.catalogue, roles, { version, source: 'file' });
}

/** Settings of {@link createBundleFetcher}. */
export interface BundleFetcherOptions {
  issuer: string;
  fetch: FetchLike;
  getKey: KeyResolver;
  algorithms: string[];
  timeoutMs: number;
  signal: AbortSignal;
  now: () => Date;
}

/**
 * Returns a function that revalidates the signed bundle against the policy held: it resolves to a
 * new {@link Policy}, or to `undefined` when the server answered 304 (unchanged).
 *
 * A bundle is accepted when: it is a compact JWS with header `typ: policy+jwt` and an allowed
 * `alg`; its signature verifies with a key of the issuer's JWKS (found by `kid`); `iss` is the
 * issuer; its payload parses with the policy schemas and forms a valid role graph and catalogue;
 * and it is not older (`iat`) than a different version already held, so a replayed old bundle
 * cannot roll the policy back. The ETag is remembered only for an accepted bundle.
 */
export function createBundleFetcher(
  options: BundleFetcherOptions,
): (held: Policy | undefined) => Promise<Policy | undefined> {
  const url = issuerUrl(options.issuer, POLICY_BUNDLE_PATH);
  let etag: { value: string; version: string } | undefined;

  return async (held) => {
    // Only ask for a 304 about the version we actually hold.
    const validator = held !== undefined && etag?.version === held.version ? etag.value : undefined;
    const response = await fetchText(options.fetch, url, {
      timeoutMs: options.timeoutMs,
      signal: options.signal,
      headers: validator === undefined ? {} : { 'if-none-match': validator },
    });
    if (response.status === 304) return undefined;

    let payload: unknown;
    try {
      ({ payload } = await jwtVerify(response.text, options.getKey, {
        issuer: options.issuer,
        typ: POLICY_BUNDLE_TYP,
        algorithms: options.algorithms,
        currentDate: options.now(),
      }));
    } catch (cause) {
      if (cause instanceof TemporarilyUnavailableError) {
        throw new PolicyClientError('ERR_POLICY_FETCH', 'the issuer signing keys are unavailable', {
          cause,
        });
      }
      throw new PolicyClientError('ERR_POLICY_SIGNATURE', 'policy bundle failed verification', {
        cause,
      });
    }
    const parsed = BundlePayloadSchema.safeParse(payload);
    if (!parsed.success) throw invalid(parsed.error, 'policy bundle');
    const { iat, version, catalogue, roles } = parsed.data;
    if (
      held?.issuedAt !== undefined &&
      held.version !== version &&
      iat * 1000 < held.issuedAt.getTime()
    ) {
      throw new PolicyClientError(
        'ERR_POLICY_STALE',
        `policy bundle ${version} is older than the one held`,
      );
    }
    const policy = toPolicy(catalogue, roles, {
      version,
      source: 'bundle',
      issuedAt: new Date(iat * 1000),
    });
    if (response.etag !== undefined) etag = { value: response.etag, version };
    return policy;
  };
}
