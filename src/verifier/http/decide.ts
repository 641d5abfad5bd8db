import type { Decision, ToolCall as PolicyToolCall } from '../../policy/index.ts';
import type { VerifiedToken } from '../token/types.ts';

/**
 * A tool call as a `decide` function receives it: the policy engine's `ToolCall` with its
 * arguments always present (`{}` when the request had none).
 */
export type ToolCall = Required<PolicyToolCall>;

type Outcome<D extends Decision['decision']> = Extract<Decision, { decision: D }>;

/**
 * The verdict on one tool call (ARCHITECTURE.md §4 "Decision") as an edge enforces it: the policy engine's
 * `Decision` without what only logs need (the allowing scope, the step-up reason).
 */
export type ToolCallDecision =
  | Pick<Outcome<'allow'>, 'decision'>
  | Outcome<'deny'>
  | Pick<Outcome<'step_up'>, 'decision' | 'scopes'>;

/**
 * Decides a tool call before the MCP server sees it; wired to the policy engine by the caller.
 * May return a promise (e.g. when the policy bundle is loaded lazily).
 */
export type DecideToolCall = (
  auth: VerifiedToken,
  call: ToolCall,
) => ToolCallDecision | Promise<ToolCallDecision>;

/** JSON-RPC error code for an unauthorized call (ARCHITECTURE.md §7.5). */
export const UNAUTHORIZED = -32002;

/**
 * What the adapter must do with a request after its tool calls were decided; `allow` lists the
 * tool calls that were decided (and allowed), in order.
 */
export type GateOutcome =
  | { kind: 'allow'; calls: ToolCall[] }
  | { kind: 'step_up'; scopes: string[] }
  | { kind: 'deny'; body: unknown };

type Id = string | number | null;
interface Message {
  id?: Id;
  method?: unknown;
  params?: { name?: unknown; arguments?: unknown };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function nonEmptyScopes(scopes: unknown): scopes is string[] {
  return (
    Array.isArray(scopes) && scopes.length > 0 && scopes.every((s) => typeof s === 'string' && s)
  );
}

/** Arguments without keys, as the guard records them: nothing in them to change. */
const NO_ARGUMENTS: Readonly<Record<string, unknown>> = Object.freeze({});

/**
 * A deep copy of a call's arguments: what `structuredClone` copies (own enumerable string keys),
 * or, for a call without any, one shared frozen `{}`.
 */
function copyOf(args: Record<string, unknown>): Record<string, unknown> {
  return Object.keys(args).length === 0 ? NO_ARGUMENTS : structuredClone(args);
}

function errorResponse(id: Id | undefined, message: string, data: Record<string, unknown>) {
  return { jsonrpc: '2.0', id: id ?? null, error: { code: UNAUTHORIZED, message, data } };
}

/**
 * Runs `decide` on every `tools/call` of a JSON-RPC message or batch. Rules:
 * - any denied call → the request is answered here (HTTP 200, JSON-RPC `-32002` with the
 *   request's id); in a batch nothing runs, and the batch's other requests get a retryable
 *   `-32002` saying why, because a partly executed batch could not be answered coherently;
 * - otherwise any step-up → one 403 challenge naming the union of the scopes needed;
 * - a verdict that is neither `allow`, `deny` nor a `step_up` naming at least one scope counts as
 *   a denial (fail closed);
 * - anything that is not a well-formed `tools/call` is left for the MCP server to answer.
 */
export async function gateToolCalls(
  body: unknown,
  auth: VerifiedToken,
  decide: DecideToolCall,
): Promise<GateOutcome> {
  const batch = Array.isArray(body);
  const messages = (batch ? body.filter(isObject) : isObject(body) ? [body] : []) as Message[];
  // Built when first needed: most requests hold one call, allowed.
  let denied: Map<Message, { reason: string; requiredRole?: string }> | undefined;
  let scopes: Set<string> | undefined;
  const calls: ToolCall[] = [];
  for (const message of messages) {
    if (
      message.method !== 'tools/call' ||
      !isObject(message.params) ||
      typeof message.params.name !== 'string'
    )
      continue;
    const args = isObject(message.params.arguments) ? message.params.arguments : {};
    // What was decided, copied before `decide` runs: neither `decide` nor code running after the
    // guard (a middleware editing req.body) can change what the allowance says was allowed.
    const decided = { name: message.params.name, arguments: copyOf(args) };
    const verdict = await decide(auth, { name: message.params.name, arguments: args });
    if (verdict.decision === 'allow') calls.push(decided);
    else if (verdict.decision === 'step_up' && nonEmptyScopes(verdict.scopes))
      for (const scope of verdict.scopes) (scopes ??= new Set()).add(scope);
    else if (verdict.decision === 'deny') (denied ??= new Map()).set(message, verdict);
    // Fail closed: a step-up naming no scope, or a verdict that is none of the three.
    else (denied ??= new Map()).set(message, { reason: 'authorization failed' });
  }
  if (denied !== undefined) {
    const refused = denied;
    const responses = messages
      .filter((message) => refused.has(message) || message.id !== undefined)
      .map((message) => {
        const verdict = refused.get(message);
        if (verdict === undefined) {
          return errorResponse(message.id, 'batch refused: it contains a denied tool call', {
            retryable: true,
            suggestedAction: 'resend this request without the denied tool call',
          });
        }
        return errorResponse(message.id, verdict.reason, {
          retryable: false,
          requiredRole: verdict.requiredRole,
          suggestedAction: verdict.requiredRole
            ? `ask an administrator for the "${verdict.requiredRole}" role`
            : 'do not retry: this call is not permitted',
        });
      });
    return { kind: 'deny', body: batch ? responses : responses[0] };
  }
  return scopes !== undefined ? { kind: 'step_up', scopes: [...scopes] } : { kind: 'allow', calls };
}
