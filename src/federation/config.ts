import { readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import ipaddr from 'ipaddr.js';
import { z } from 'zod';
import { AppError } from '../errors.ts';
import { formatZodIssues } from '../policy/index.ts';
import type { OutboundAllowList } from '../config/outbound-allow.ts';

/** Names the rules of the federation file use for roles, groups, claims: printable, bounded. */
const Name = z.string().min(1).max(200);

/** One mapping rule: when claim `claim` equals `equals` (or, for a list claim, contains it). */
export const RuleSchema = z.strictObject({
  claim: Name.describe('Claim of the ID token or userinfo, e.g. "groups" or "hd"'),
  equals: z
    .union([z.string(), z.number(), z.boolean()])
    .describe('The value that makes the rule apply; a list claim applies when it contains it'),
  roles: z.array(Name).default([]).describe('Roles granted while the rule applies'),
  groups: z.array(Name).default([]).describe('Approver groups granted while the rule applies'),
});

/** One upstream OpenID Provider. */
export const UpstreamSchema = z
  .strictObject({
    id: z
      .string()
      .regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, 'must be lower-case letters, digits, "-" or "_"')
      .describe('Stable id, part of the redirect URI <ISSUER>/federation/<id>/callback'),
    name: z.string().min(1).max(100).describe('Button label on the sign-in pages'),
    issuer: z
      .url({ protocol: /^https?$/ })
      .describe('Issuer identifier; its discovery document is read from it'),
    clientId: z.string().min(1).max(500),
    clientSecret: z.string().min(1).max(2000).optional().describe('Prefer clientSecretEnv'),
    clientSecretEnv: z
      .string()
      .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be an environment variable name')
      .optional()
      .describe('Name of the environment variable holding the client secret'),
    scopes: z
      .array(z.string().regex(/^[\x21\x23-\x5b\x5d-\x7e]+$/, 'must be a scope token'))
      .default(['openid', 'email', 'profile'])
      .refine((s) => s.includes('openid'), 'must include "openid"'),
    claims: z
      .strictObject({
        email: Name.default('email'),
        name: Name.default('name'),
        groups: Name.default('groups'),
      })
      .default({ email: 'email', name: 'name', groups: 'groups' })
      .describe('Claim names of the email, display name and groups'),
    allowLinking: z
      .boolean()
      .default(false)
      .describe(
        'Link to an existing local account with the same email, when the upstream says it is verified',
      ),
    rules: z.array(RuleSchema).default([]).describe('Roles and groups granted by claim values'),
  })
  .refine((u) => !(u.clientSecret && u.clientSecretEnv), {
    message: 'set clientSecret or clientSecretEnv, not both',
  });

/** The federation file (`FEDERATION_FILE`). */
export const FederationFileSchema = z.strictObject({
  $schema: z.string().optional(),
  upstreams: z
    .array(UpstreamSchema)
    .refine((list) => new Set(list.map((u) => u.id)).size === list.length, 'ids must be unique'),
});

/** An upstream as the server uses it: the secret resolved from the environment. */
export type Upstream = Omit<z.output<typeof UpstreamSchema>, 'clientSecretEnv'> & {
  /** Undefined: a public client (PKCE only). */
  clientSecret?: string;
};

/** A mapping rule, with its defaults applied. */
export type UpstreamRule = z.output<typeof RuleSchema>;

/** Thrown when the federation file cannot be read or is invalid: one line naming the problem. */
export class FederationConfigError extends AppError<'ERR_FEDERATION_CONFIG'> {
  constructor(message: string) {
    super('ERR_FEDERATION_CONFIG', message);
  }
}

/** What {@link loadFederation} checks names and addresses against. */
export interface FederationChecks {
  /** Roles and approver groups that exist: rules may name only these. */
  roles: readonly string[];
  groups: readonly string[];
  /** `OUTBOUND_ALLOW`: an `http:` issuer must be admitted by it. */
  outboundAllow: OutboundAllowList;
  /** Where `clientSecretEnv` is read. Default `process.env`. */
  env?: Record<string, string | undefined>;
}

/**
 * Reads and validates the federation file. Rules enforced, each refused with one line naming
 * the file and the path of the problem:
 * - the zod schema ({@link FederationFileSchema}): unknown keys, ids, URLs, scope tokens;
 * - an issuer is `https:`, or `http:` only to a host admitted by `OUTBOUND_ALLOW` (test and lab
 *   setups), never silently insecure;
 * - `clientSecretEnv` names a variable that is set;
 * - rules name existing roles and groups.
 *
 * @param file - the path; `required` false: a missing file means no upstreams.
 * @returns the upstreams, frozen; empty when there is no file.
 * @throws {FederationConfigError} on any problem.
 */
export async function loadFederation(
  file: { file: string; required: boolean },
  checks: FederationChecks,
): Promise<readonly Upstream[]> {
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(file.file, 'utf8'));
  } catch (err) {
    const missing = (err as NodeJS.ErrnoException).code === 'ENOENT';
    if (missing && !file.required) return Object.freeze([]);
    throw new FederationConfigError(
      `FEDERATION_FILE ${file.file}: ${missing ? 'file not found' : 'not valid JSON'}`,
    );
  }
  const parsed = FederationFileSchema.safeParse(raw);
  if (!parsed.success)
    throw new FederationConfigError(`${file.file}: ${formatZodIssues(parsed.error).join('; ')}`);
  const env = checks.env ?? process.env;
  const roles = new Set(checks.roles);
  const groups = new Set(checks.groups);
  const problems: string[] = [];
  const upstreams = parsed.data.upstreams.map((u, i) => {
    const at = `upstreams[${i}]`;
    const issuer = new URL(u.issuer);
    if (issuer.protocol === 'http:' && !admitted(issuer.hostname, checks.outboundAllow))
      problems.push(`${at}.issuer: must be https (http only to a host admitted by OUTBOUND_ALLOW)`);
    if (u.clientSecretEnv && !env[u.clientSecretEnv])
      problems.push(`${at}.clientSecretEnv: environment variable ${u.clientSecretEnv} is not set`);
    u.rules.forEach((rule, j) => {
      for (const role of rule.roles)
        if (!roles.has(role)) problems.push(`${at}.rules[${j}].roles: unknown role "${role}"`);
      for (const group of rule.groups)
        if (!groups.has(group)) problems.push(`${at}.rules[${j}].groups: unknown group "${group}"`);
    });
    const { clientSecretEnv, clientSecret, ...rest } = u;
    const secret = clientSecretEnv ? env[clientSecretEnv] : clientSecret;
    return Object.freeze({ ...rest, ...(secret ? { clientSecret: secret } : {}) });
  });
  if (problems.length) throw new FederationConfigError(`${file.file}: ${problems.join('; ')}`);
  return Object.freeze(upstreams);
}

function admitted(hostname: string, allow: OutboundAllowList): boolean {
  const host = hostname.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  if (allow.hosts.has(host)) return true;
  if (isIP(host) === 0) return false;
  const address = ipaddr.process(host);
  return allow.ranges.some(
    ([range, bits]) => address.kind() === range.kind() && address.match(range, bits),
  );
}

/** The JSON Schema of the federation file (written to federation.schema.json). */
export function federationJsonSchema(): Record<string, unknown> {
  return z.toJSONSchema(FederationFileSchema, { io: 'input' }) as Record<string, unknown>;
}
