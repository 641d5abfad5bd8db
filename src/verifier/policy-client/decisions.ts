import type { AuthInfo } from '@modelcontextprotocol/sdk/server/auth/types.js';
import {
  decide as decidePolicy,
  toolVisible,
  type Principal,
  type ToolCall,
} from '../../policy/index.ts';
import type { ToolCallDecision } from '../http/decide.ts';
import { policyPrincipal, principalOf } from '../observability/principal.ts';
import { sameResource } from '../../policy/resource-uri.ts';
import type { VerifiedToken } from '../token/types.ts';
import type { Policy } from './bundle.ts';
import { callMatchesBinding, toolBindings } from './tool-binding.ts';

/**
 * Who is calling: the verified token as the HTTP guard sees it, or the MCP SDK's `AuthInfo` that
 * tool handlers and `protectMcpServer` see (with `extra.subject` / `extra.roles` from `toAuthInfo`).
 */
export type Caller = VerifiedToken | AuthInfo;

/** What the policy engine needs to know of a caller. */
interface Facts {
  principal: Principal;
  scopes: readonly string[];
}

function factsOf(caller: Caller): Facts {
  // A VerifiedToken always carries its claims; an AuthInfo never does at the top level.
  if ('claims' in caller) {
    return {
      principal: { subject: caller.subject ?? caller.clientId, roles: caller.roles },
      scopes: caller.scopes,
    };
  }
  return { principal: policyPrincipal(principalOf(caller)), scopes: caller.scopes };
}

/**
 * The catalogue's own spelling of `resource`, compared as the token verifier compares audiences
 * (`sameResource`), or undefined when the catalogue does not list it: then the authorization
 * server issues no token for it.
 */
export function listedResource(policy: Policy, resource: string): string | undefined {
  return Object.keys(policy.catalogue.resources).find((k) => sameResource(k, resource));
}

/**
 * Why a protection for `resource` would be of no use under `policy`: the catalogue does not list
 * it, so the authorization server issues no token for it. Undefined when it is listed (or no
 * policy is loaded yet). The one check of every entry point that serves a resource at start (the
 * gateway's routes, the example MCP server).
 */
export function unlistedResource(policy: Policy | undefined, resource: string): string | undefined {
  if (policy === undefined || listedResource(policy, resource) !== undefined) return undefined;
  return `resource ${resource} is not in the issuer's catalogue (the \`resources\` of its scopes.json), so no token can be issued for it`;
}

/** Keys found by {@link catalogueResource}, per policy (a policy never changes once loaded). */
const resourceKeys = new WeakMap<Policy, Map<string, string>>();

/**
 * The catalogue's key for `resource`, compared as the token verifier compares audiences. Found
 * once per policy and resource: a client asks for the same one or two on every call.
 */
export function catalogueResource(
  policy: Policy,
  resource: string | undefined,
): string | undefined {
  if (resource === undefined) return undefined;
  let keys = resourceKeys.get(policy);
  if (keys === undefined) resourceKeys.set(policy, (keys = new Map()));
  let key = keys.get(resource);
  if (key === undefined) {
    key = listedResource(policy, resource) ?? resource;
    // Bounded: callers pass their own configured resource, but keep a stray caller from growing it.
    if (keys.size < 64) keys.set(resource, key);
  }
  return key;
}

/**
 * Decides a tool call with the policy engine and maps the result to what the HTTP guard and
 * `protectMcpServer` expect. A step-up names only the first scope the engine offers: each offered
 * scope alone would allow the call, the engine lists the shortest-lived (least standing
 * privilege) first, and asking for all of them would request more than the call needs.
 */
export function decideWith(
  policy: Policy,
  resource: string | undefined,
  caller: Caller,
  call: ToolCall,
  now: Date,
): ToolCallDecision {
  const facts = factsOf(caller);
  const decision = decidePolicy({
    roles: policy.roles,
    catalogue: policy.catalogue,
    principal: facts.principal,
    call: { name: call.name, arguments: call.arguments ?? {} },
    tokenScopes: facts.scopes,
    now,
    resource: catalogueResource(policy, resource),
  });
  switch (decision.decision) {
    case 'allow': {
      // An elevation bound to one exact tool call (authorization_details mcp_tool_call) allows
      // only that call under its elevated scope; base-scope calls stay allowed.
      const bindings = toolBindings(
        'claims' in caller
          ? caller.claims
          : (caller.extra?.claims as Record<string, unknown> | undefined),
      );
      if (
        bindings.length &&
        policy.catalogue.scopes[decision.scope]?.minRole &&
        !callMatchesBinding(bindings, call)
      ) {
        return {
          decision: 'deny',
          reason: 'this elevated token was approved for a different tool call',
        };
      }
      return { decision: 'allow' };
    }
    case 'step_up':
      return { decision: 'step_up', scopes: decision.scopes.slice(0, 1) };
    case 'deny':
      return decision.requiredRole === undefined
        ? { decision: 'deny', reason: decision.reason }
        : { decision: 'deny', reason: decision.reason, requiredRole: decision.requiredRole };
  }
}

/** Whether `tools/list` shows `toolName` to the caller (see `toolVisible` of the policy engine). */
export function visibleWith(
  policy: Policy,
  resource: string | undefined,
  caller: Caller,
  toolName: string,
): boolean {
  const facts = factsOf(caller);
  return toolVisible({
    roles: policy.roles,
    catalogue: policy.catalogue,
    principal: facts.principal,
    tokenScopes: facts.scopes,
    resource: catalogueResource(policy, resource),
    name: toolName,
  });
}
