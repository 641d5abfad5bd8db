/**
 * The zod schemas below are the single source of truth for roles, permissions and the scope
 * catalogue (`scopes.json`): TypeScript types come from `z.infer`, and `scopes.schema.json` is
 * generated from {@link CatalogueSchema}. Objects are strict so a misspelt key in a security
 * policy is an error rather than a silently ignored rule.
 */
import { z } from 'zod';

const HH_MM = /^(?:[01]\d|2[0-3]):[0-5]\d$/;

/** True when `Intl` knows the time zone; evaluated once per config load, never per call. */
function isTimeZone(timeZone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone });
    return true;
  } catch {
    return false;
  }
}

/** A role name: lowercase, starts with a letter, at most 64 characters. */
export const RoleNameSchema = z
  .string()
  .regex(
    /^[a-z][a-z0-9_.-]{0,63}$/,
    'must be 1-64 characters of a-z, 0-9, "_", ".", "-", starting with a letter',
  );

/** An OAuth scope name as used in this catalogue, e.g. `mcp:deploy:production`. */
export const ScopeNameSchema = z
  .string()
  .regex(
    /^[a-z][a-z0-9_.:-]{0,127}$/,
    'must be 1-128 characters of a-z, 0-9, "_", ".", ":", "-", starting with a letter',
  );

const ParamValueSchema = z.union([z.string(), z.number(), z.boolean()]);

/** Daily time window in a time zone; `start` inclusive, `end` exclusive, may cross midnight. */
export const TimeWindowSchema = z
  .strictObject({
    start: z.string().regex(HH_MM, 'must be a time "HH:MM" (00:00-23:59)'),
    end: z.string().regex(HH_MM, 'must be a time "HH:MM" (00:00-23:59)'),
    timezone: z
      .string()
      .refine(isTimeZone, 'must be an IANA time zone known to Intl, e.g. "Europe/Berlin"')
      .describe('IANA time zone the window is expressed in'),
  })
  // An empty window (or a full day) is almost certainly a mistake; say so instead of guessing.
  .refine((w) => w.start !== w.end, { message: 'start and end must differ', path: ['end'] });

/**
 * Conditions narrowing a permission or grant. Every listed condition must hold; a condition that
 * names an argument the call does not carry fails closed.
 */
export const ConditionsSchema = z
  .strictObject({
    environment: z
      .array(z.string().min(1))
      .min(1)
      .optional()
      .describe('Allowed values of the "environment" argument (sugar for params.environment)'),
    params: z
      .record(z.string().min(1), z.array(ParamValueSchema).min(1))
      .optional()
      .describe(
        'Argument name -> allowed values; the argument must be present and equal one of them',
      ),
    timeWindow: TimeWindowSchema.optional(),
    maxCost: z
      .number()
      .nonnegative()
      .optional()
      .describe('Upper bound (inclusive) for the numeric "cost" argument'),
  })
  .refine((c) => !(c.environment && c.params && Object.hasOwn(c.params, 'environment')), {
    message: 'use either environment or params.environment, not both',
    path: ['environment'],
  });

/** What a role or a scope allows: an action on resources whose name matches a glob. */
export const PermissionSchema = z.strictObject({
  resource: z
    .string()
    .min(1)
    .describe('Glob over resource names such as "tool:deploy_service"; only * and ? are special'),
  action: z.string().min(1).default('invoke').describe('Action name, or "*" for any action'),
  conditions: ConditionsSchema.optional(),
});

/** A role; `inherits` is transitive and must not form a cycle. */
export const RoleSchema = z.strictObject({
  name: RoleNameSchema,
  description: z.string().optional(),
  inherits: z.array(RoleNameSchema).default([]),
  permissions: z.array(PermissionSchema).default([]),
});

/** Approval required before an elevated scope is granted. */
export const ApprovalSchema = z.strictObject({
  groups: z
    .array(z.string().min(1))
    .min(1)
    .describe('Approver groups; a member of any of them may approve'),
  quorum: z.int().min(1).default(1).describe('Distinct approvals needed'),
  ttl: z.int().positive().default(900).describe('Seconds an approval ticket stays open'),
  requirePasskey: z
    .boolean()
    .optional()
    .describe(
      'When true an approval needs a fresh passkey (WebAuthn) assertion with user verification, bound to the ticket and the decision',
    ),
});

/** One scope of the catalogue. A scope with `minRole` is *elevated*. */
export const ScopeDefinitionSchema = z
  .strictObject({
    description: z.string().min(1).describe('Shown to users on consent and approval pages'),
    grants: z.array(PermissionSchema),
    minRole: RoleNameSchema.optional().describe(
      'Makes the scope elevated: only holders of this role (or a descendant) may obtain it',
    ),
    expiresIn: z
      .int()
      .positive()
      .optional()
      .describe('Lifetime in seconds of a token carrying this elevated scope'),
    approval: ApprovalSchema.optional(),
    dpop: z.boolean().optional().describe('When true the token must be DPoP sender-constrained'),
    service: z
      .boolean()
      .optional()
      .describe(
        'When true a service scope: only for clients acting for themselves that an admin registered and allowed it',
      ),
  })
  // A service scope is a client's own; elevation (minRole) is a user's, approved per request.
  .refine((s) => !(s.service && s.minRole), {
    message: 'a service scope cannot be elevated (minRole)',
    path: ['service'],
  });

/** An MCP server protected by this authorization server. */
export const ProtectedResourceSchema = z.strictObject({
  name: z.string().min(1),
  scopes: z.array(ScopeNameSchema).describe('Scopes this resource accepts (its scopes_supported)'),
});

/** The scope catalogue, i.e. the contents of `scopes.json`. */
export const CatalogueSchema = z
  .strictObject({
    $schema: z.string().optional(),
    baseScopes: z
      .array(ScopeNameSchema)
      .describe('Granted to everyone and included in every token'),
    resources: z
      .record(z.url({ protocol: /^https?$/ }), ProtectedResourceSchema)
      .describe('MCP server resource URL -> its name and accepted scopes'),
    scopes: z.record(ScopeNameSchema, ScopeDefinitionSchema),
  })
  .refine((c) => !c.baseScopes.some((s) => c.scopes[s]?.service), {
    message: 'a service scope cannot be a base scope (base scopes go to everyone)',
    path: ['baseScopes'],
  })
  .meta({ title: 'mcp-elevate scope catalogue' });

/** Conditions after parsing. */
export type Conditions = z.infer<typeof ConditionsSchema>;
/** A daily time window after parsing. */
export type TimeWindow = z.infer<typeof TimeWindowSchema>;
/** A permission after parsing (`action` defaulted). */
export type Permission = z.infer<typeof PermissionSchema>;
/** A role after parsing (`inherits` and `permissions` defaulted). */
export type Role = z.infer<typeof RoleSchema>;
/** A role as written by a user, before defaults apply. */
export type RoleInput = z.input<typeof RoleSchema>;
/** Approval settings after parsing. */
export type Approval = z.infer<typeof ApprovalSchema>;
/** A scope definition after parsing. */
export type ScopeDefinition = z.infer<typeof ScopeDefinitionSchema>;
/** A protected resource entry after parsing. */
export type ProtectedResource = z.infer<typeof ProtectedResourceSchema>;
/** The scope catalogue after parsing. */
export type Catalogue = z.infer<typeof CatalogueSchema>;
/** The scope catalogue as written in `scopes.json`, before defaults apply. */
export type CatalogueInput = z.input<typeof CatalogueSchema>;

/**
 * The JSON Schema of `scopes.json` (the *input* shape: keys with defaults are optional).
 * Pure; `scripts/generate-scopes-schema.ts` writes it to disk.
 */
export function catalogueJsonSchema(): Record<string, unknown> {
  return z.toJSONSchema(CatalogueSchema, { io: 'input' }) as Record<string, unknown>;
}
