import { isDeepStrictEqual } from 'node:util';
import type { AuthInfo } from '@modelcontextprotocol/sdk/server/auth/types.js';
import { toAuthInfo } from '../token/auth-info.ts';
import type { VerifiedToken } from '../token/types.ts';
import type { DecideToolCall, ToolCall } from './decide.ts';

/**
 * The `tools/call`s an HTTP guard decided and allowed in one request, with the `decide` that
 * allowed them. It is kept for the request's `AuthInfo` object (in a module-private `WeakMap`:
 * invisible to tool code, not carried by copies) from the guard to `protectMcpServer`, which then
 * need not decide the same call a second time (see `ProtectOptions.guardDecide`). The arguments
 * are the guard's own copy, taken before it decided.
 */
export interface GuardAllowance {
  /** The guard's `decide`: an allowance counts only for a protection that trusts this function. */
  readonly decide: DecideToolCall;
  /** The allowed calls, with the arguments as the request carried them. */
  readonly calls: readonly ToolCall[];
}

const allowances = new WeakMap<AuthInfo, GuardAllowance>();

/**
 * The MCP SDK's `AuthInfo` for a request the guard let through (what `req.auth` carries), with
 * the guard's allowance attached when it decided tool calls. The one way every adapter (node:http,
 * Express, Koa) builds `req.auth`.
 */
export function authInfoFor(auth: VerifiedToken, allowance?: GuardAllowance): AuthInfo {
  const authInfo = toAuthInfo(auth);
  if (allowance !== undefined && allowance.calls.length > 0) allowances.set(authInfo, allowance);
  return authInfo;
}

/**
 * Whether the guard `decide` allowed exactly this call in this request: the same tool with
 * deeply equal arguments (`util.isDeepStrictEqual`). Arguments the MCP server changed while
 * parsing them (defaults, coercion, stripped keys) do not match, so such a call is decided again
 * on what the tool receives.
 */
export function allowedByGuard(
  authInfo: AuthInfo,
  decide: DecideToolCall,
  name: string,
  args: Record<string, unknown>,
): boolean {
  const allowance = allowances.get(authInfo);
  if (allowance === undefined || allowance.decide !== decide) return false;
  return allowance.calls.some(
    (call) => call.name === name && isDeepStrictEqual(call.arguments, args),
  );
}
