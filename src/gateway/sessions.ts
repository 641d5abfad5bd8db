import { LRUCache } from 'lru-cache';
import type { VerifiedToken } from '../verifier/token/types.ts';

/** Default number of sessions remembered. */
const MAX_SESSIONS = 100_000;

const ownerOf = (auth: VerifiedToken) => `${auth.clientId}\u0000${auth.subject ?? ''}`;
const single = (value: string | string[] | undefined) => (Array.isArray(value) ? value[0] : value);

/**
 * Who opened each upstream session (`Mcp-Session-Id`), so that a session id alone does not let
 * another client or user into it: the upstream sees no credentials and cannot check this itself.
 * Sessions are learned from the upstream's answers. An id the gateway does not know is refused
 * like another caller's (fail closed): after a restart, on another instance without sticky
 * sessions, or once forgotten, the client starts a new session, as MCP has it do on a 404.
 * Memory is bounded: the least recently used sessions are forgotten first, and with them only
 * their use, never their owner.
 */
export class SessionOwners {
  readonly #owners: LRUCache<string, string>;

  constructor(max = MAX_SESSIONS) {
    this.#owners = new LRUCache({ max });
  }

  /** Records the caller as the owner of a session id the upstream just answered with. */
  learn(sessionId: string | string[] | undefined, auth: VerifiedToken): void {
    const id = single(sessionId);
    if (id !== undefined && id !== '' && !this.#owners.has(id)) this.#owners.set(id, ownerOf(auth));
  }

  /** Whether the caller may use this session id: no id, or one the caller opened here. */
  mayUse(sessionId: string | string[] | undefined, auth: VerifiedToken): boolean {
    const id = single(sessionId);
    if (id === undefined) return true;
    return this.#owners.get(id) === ownerOf(auth);
  }

  /** Forgets a session the client deleted. */
  forget(sessionId: string | string[] | undefined): void {
    const id = single(sessionId);
    if (id !== undefined) this.#owners.delete(id);
  }
}
