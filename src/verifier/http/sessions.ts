import type { ServerResponse } from 'node:http';
import { LRUCache } from 'lru-cache';
import type { VerifiedToken } from '../token/types.ts';

/** Default number of sessions remembered. */
const MAX_SESSIONS = 100_000;

/** The MCP Streamable HTTP session header (lower case, as Node reads it). */
export const SESSION_HEADER = 'mcp-session-id';

const ownerOf = (auth: VerifiedToken) => `${auth.clientId}\u0000${auth.subject ?? ''}`;
const single = (value: unknown) =>
  typeof value === 'string' ? value : Array.isArray(value) ? String(value[0]) : undefined;

/**
 * Who opened each MCP session (`Mcp-Session-Id`), so that a session id alone does not let
 * another client or user into it (MCP security best practices: bind sessions to the user). The
 * guard of every adapter and the gateway use one table per guard:
 * - a session is learned from the response that opened it (the `Mcp-Session-Id` it carries);
 * - a request naming a session may use it only if its token's client and subject opened it; an
 *   id this table does not know is refused like another caller's (fail closed: after a restart,
 *   or on an instance that did not open it, the client starts a new session, as MCP has it do
 *   on a 404; several instances need sticky routing);
 * - memory is bounded: the least recently used sessions are forgotten first.
 */
export class SessionOwners {
  readonly #owners: LRUCache<string, string>;

  constructor(max = MAX_SESSIONS) {
    this.#owners = new LRUCache({ max });
  }

  /** Records the caller as the owner of a session id a response just opened. */
  learn(sessionId: unknown, auth: VerifiedToken): void {
    const id = single(sessionId);
    if (id !== undefined && id !== '' && !this.#owners.has(id)) this.#owners.set(id, ownerOf(auth));
  }

  /** Whether the caller may use this session id: no id, or one the caller opened here. */
  mayUse(sessionId: unknown, auth: VerifiedToken): boolean {
    const id = single(sessionId);
    if (id === undefined) return true;
    return this.#owners.get(id) === ownerOf(auth);
  }
}

/** The value of `name` (lower case) in `writeHead`'s headers: an object, or a flat name/value list. */
function headerIn(headers: unknown, name: string): unknown {
  if (Array.isArray(headers)) {
    for (let i = 0; i + 1 < headers.length; i += 2)
      if (String(headers[i]).toLowerCase() === name) return headers[i + 1];
    return undefined;
  }
  if (typeof headers !== 'object' || headers === null) return undefined;
  for (const key of Object.keys(headers))
    if (key.toLowerCase() === name) return (headers as Record<string, unknown>)[key];
  return undefined;
}

/**
 * Learns the session a response opens, whoever writes it (the MCP SDK's transport, a framework):
 * the response's `writeHead` (also called for headers set with `setHeader`) is watched once, for
 * this response only, and the `Mcp-Session-Id` it sends is recorded as `auth`'s.
 */
export function learnSessionOpenedBy(
  res: ServerResponse,
  owners: SessionOwners,
  auth: VerifiedToken,
): void {
  const writeHead = res.writeHead;
  res.writeHead = function (this: ServerResponse, ...args: unknown[]) {
    res.writeHead = writeHead;
    const sent = res.getHeader(SESSION_HEADER) ?? headerIn(args[2] ?? args[1], SESSION_HEADER);
    owners.learn(sent, auth);
    return (writeHead as (...a: unknown[]) => ServerResponse).apply(this, args);
  } as ServerResponse['writeHead'];
}
