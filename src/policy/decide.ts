import { conditionsHold } from './conditions.ts';
import { permissionCovers } from './glob.ts';
import type { RoleGraph } from './roles.ts';
import type { Catalogue, Permission, ScopeDefinition } from './schema.ts';
import type { ToolCall } from './tool-call.ts';

/**
 * Who is calling: the token's subject and its role names (unknown names grant nothing). The one
 * shape of a principal: the verifier's view of a caller (`Principal` of `mcp-elevate/verifier`)
 * derives from it.
 */
export interface Principal {
  subject: string;
  roles: readonly string[];
}

/** Everything {@link decide} needs; plain data plus an injected clock. */
export interface DecideInput {
  roles: RoleGraph;
  catalogue: Catalogue;
  principal: Principal;
  call: ToolCall;
  /** Scopes of the presented token. Base scopes count as held whether listed or not. */
  tokenScopes: readonly string[];
  now: Date;
  /**
   * The MCP server's resource URL. When given, step-up only offers scopes that this catalogue
   * resource accepts (none if the resource is unknown). Default: no restriction.
   */
  resource?: string;
}

/**
 * The outcome of {@link decide}. `reason` is for logs and audit; edges decide what to show. The one
 * decision type: the verdict an edge enforces (`ToolCallDecision` of `mcp-elevate/verifier`) and
 * the audited outcome (`AuditDecision`) derive from it.
 */
export type Decision =
  | { decision: 'allow'; scope: string }
  | { decision: 'step_up'; scopes: string[]; reason: string }
  | { decision: 'deny'; reason: string; requiredRole?: string };

/** Input of {@link toolVisible}: like {@link DecideInput} without the call's arguments or clock. */
export type VisibilityInput = Omit<DecideInput, 'call' | 'now'> & { name: string };

type Evaluation = { ok: true } | { ok: false; reason?: string };

/** Does some permission cover the call with its conditions holding? Keeps the first failure reason. */
function evaluate(
  permissions: readonly Permission[],
  resource: string,
  call: ToolCall,
  now: Date,
): Evaluation {
  let reason: string | undefined;
  for (const permission of permissions) {
    if (!permissionCovers(permission, resource, 'invoke')) continue;
    const result = conditionsHold(permission.conditions, call.arguments, now);
    if (result.ok) return { ok: true };
    reason ??= result.reason;
  }
  return { ok: false, reason };
}

const byRank = (roles: RoleGraph) => (a: string, b: string) =>
  roles.ancestors(a).length - roles.ancestors(b).length;

/** Held scopes in priority order: base scopes first, then the token's, deduplicated. */
const heldScopes = (input: Omit<VisibilityInput, 'name'>): string[] => [
  ...new Set([...input.catalogue.baseScopes, ...input.tokenScopes]),
];

const scopeDefinition = (catalogue: Catalogue, name: string): ScopeDefinition | undefined =>
  Object.hasOwn(catalogue.scopes, name) ? catalogue.scopes[name] : undefined;

/** Elevated scopes not yet held, restricted to what `resource` accepts when one is named. */
function obtainable(
  input: Omit<VisibilityInput, 'name'>,
  held: readonly string[],
): Array<[string, ScopeDefinition]> {
  const accepted =
    input.resource === undefined
      ? undefined
      : new Set(
          Object.hasOwn(input.catalogue.resources, input.resource)
            ? input.catalogue.resources[input.resource].scopes
            : [],
        );
  return Object.entries(input.catalogue.scopes).filter(
    ([name, scope]) =>
      scope.minRole !== undefined &&
      !held.includes(name) &&
      (accepted === undefined || accepted.has(name)),
  );
}

function assertInput(
  input: { principal: Principal; tokenScopes: readonly string[] },
  name: unknown,
): asserts name is string {
  if (typeof name !== 'string') throw new TypeError('tool name must be a string');
  if (!Array.isArray(input.principal?.roles))
    throw new TypeError('principal.roles must be an array');
  if (!Array.isArray(input.tokenScopes)) throw new TypeError('tokenScopes must be an array');
}

/**
 * Decides a tool call (ARCHITECTURE.md §4). Rules, in order:
 * 1. *Role ceiling*: an effective permission of the principal's roles covers `tool:<name>` /
 *    `invoke` with its conditions holding; otherwise **deny**, naming as `requiredRole` the
 *    lowest-ranked role (fewest ancestors) whose permissions would allow the call, if any.
 * 2. *Scope gate*: a grant of a held scope (base scopes always held) covers the call with its
 *    conditions holding → **allow**, naming that scope.
 * 3. Elevated scopes not held whose grants would allow the call and whose `minRole` the principal
 *    satisfies → **step_up** with those scopes, shortest `expiresIn` first (least standing
 *    privilege); if only scopes the principal is not eligible for would help, **deny** naming the
 *    lowest such `minRole`; otherwise **deny**.
 *
 * @throws {TypeError} On malformed input (e.g. invalid `now`), which is a caller bug.
 */
export function decide(input: DecideInput): Decision {
  const { roles, catalogue, principal, call, now } = input;
  assertInput(input, call?.name);
  const resource = `tool:${call.name}`;
  const tool = JSON.stringify(call.name);

  const ceiling = evaluate(roles.permissions(principal.roles), resource, call, now);
  if (!ceiling.ok) {
    const requiredRole = [...roles.roles.keys()]
      .filter((role) => evaluate(roles.permissions([role]), resource, call, now).ok)
      .sort(byRank(roles))[0];
    const reason = ceiling.reason
      ? `the principal's roles allow tool ${tool} only under conditions that do not hold: ${ceiling.reason}`
      : `no role of the principal permits tool ${tool}`;
    return requiredRole === undefined
      ? { decision: 'deny', reason }
      : { decision: 'deny', reason, requiredRole };
  }

  const held = heldScopes(input);
  let scopeReason: string | undefined;
  for (const name of held) {
    const scope = scopeDefinition(catalogue, name);
    if (!scope) continue;
    const result = evaluate(scope.grants, resource, call, now);
    if (result.ok) return { decision: 'allow', scope: name };
    scopeReason ??= result.reason;
  }

  const helpful = obtainable(input, held).filter(
    ([, scope]) => evaluate(scope.grants, resource, call, now).ok,
  );
  const eligible = helpful.filter(([, scope]) => roles.satisfies(principal.roles, scope.minRole!));
  if (eligible.length > 0) {
    const scopes = eligible
      .sort(([, a], [, b]) => (a.expiresIn ?? Infinity) - (b.expiresIn ?? Infinity))
      .map(([name]) => name);
    return {
      decision: 'step_up',
      scopes,
      reason: `tool ${tool} needs one of the scopes ${scopes.join(', ')}`,
    };
  }
  const requiredRole = helpful.map(([, scope]) => scope.minRole!).sort(byRank(roles))[0];
  if (requiredRole !== undefined) {
    return {
      decision: 'deny',
      reason: `every scope granting tool ${tool} requires a role the principal lacks`,
      requiredRole,
    };
  }
  const why = scopeReason ? `: ${scopeReason}` : '';
  return { decision: 'deny', reason: `no scope held or obtainable grants tool ${tool}${why}` };
}

/**
 * Whether tool `name` should appear in the principal's `tools/list`: its roles cover
 * `tool:<name>` / `invoke`, and a held or obtainable (eligible, elevated) scope grants it —
 * both ignoring conditions, since the arguments are not known yet. Hiding a tool is a courtesy;
 * {@link decide} is still the check on every call.
 */
export function toolVisible(input: VisibilityInput): boolean {
  assertInput(input, input.name);
  const resource = `tool:${input.name}`;
  const covers = (permissions: readonly Permission[]) =>
    permissions.some((p) => permissionCovers(p, resource, 'invoke'));
  if (!covers(input.roles.permissions(input.principal.roles))) return false;
  const held = heldScopes(input);
  if (held.some((name) => covers(scopeDefinition(input.catalogue, name)?.grants ?? [])))
    return true;
  return obtainable(input, held).some(
    ([, scope]) =>
      input.roles.satisfies(input.principal.roles, scope.minRole!) && covers(scope.grants),
  );
}
