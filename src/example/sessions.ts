import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';
import {
  releaseJsonResponseStreams,
  type AuthenticatedRequest,
  type VerifiedToken,
} from '../verifier/index.ts';

/** Options of {@link McpSessions}. */
export interface McpSessionsOptions {
  /** Makes the (protected) MCP server of a new session. */
  createServer: () => McpServer;
  /** Most sessions at once; the least recently used is closed first. Default `1000`. */
  maxSessions?: number;
  /** A session unused for this long is closed, ms. Default `1_800_000` (30 min). */
  idleMs?: number;
}

interface Session {
  transport: StreamableHTTPServerTransport;
  server: McpServer;
  /** Client and subject that opened it: a session id alone must not let someone else in. */
  owner: string;
  lastSeen: number;
}

const ownerOf = (auth: VerifiedToken) => `${auth.clientId}\u0000${auth.subject ?? ''}`;

function jsonRpcError(res: ServerResponse, status: number, code: number, message: string): void {
  res.writeHead(status, { 'Content-Type': 'application/json' });
  res.end(JSON.stringify({ jsonrpc: '2.0', id: null, error: { code, message } }));
}

/**
 * Streamable HTTP sessions, one `McpServer` and transport each (the MCP SDK's stateful pattern).
 * Stateful rather than one server per request because the verifier's rate limits and breakers
 * live in the protected server: a server per request would start every caller with a full bucket.
 *
 * Rules: a session is created only by an `initialize` POST; a request for an unknown session, or
 * for a session opened by another client or subject, gets 404 (the client then starts a new one,
 * as the MCP specification says); memory is bounded by `maxSessions` and `idleMs`.
 */
export class McpSessions {
  readonly #sessions = new Map<string, Session>();
  readonly #options: Required<McpSessionsOptions>;
  readonly #sweep: ReturnType<typeof setInterval>;

  constructor(options: McpSessionsOptions) {
    this.#options = { maxSessions: 1000, idleMs: 1_800_000, ...options };
    this.#sweep = setInterval(() => this.#closeIdle(), Math.min(60_000, this.#options.idleMs));
    this.#sweep.unref();
  }

  get size(): number {
    return this.#sessions.size;
  }

  /** Hands an authenticated request to its session's transport (`req.body` as parsed by the guard). */
  async handle(req: IncomingMessage, res: ServerResponse, auth: VerifiedToken): Promise<void> {
    const body = (req as AuthenticatedRequest).body;
    const header = req.headers['mcp-session-id'];
    const id = typeof header === 'string' ? header : undefined;
    if (id !== undefined) {
      const session = this.#sessions.get(id);
      if (session === undefined || session.owner !== ownerOf(auth))
        return jsonRpcError(res, 404, -32001, 'Session not found');
      // Re-inserting keeps the map in least-recently-used order for eviction.
      this.#sessions.delete(id);
      session.lastSeen = Date.now();
      this.#sessions.set(id, session);
      return session.transport.handleRequest(req, res, body);
    }
    if (req.method !== 'POST' || !isInitializeRequest(body)) {
      return jsonRpcError(res, 400, -32000, 'Bad Request: no valid session ID provided');
    }
    await this.#open(req, res, auth, body);
  }

  async #open(
    req: IncomingMessage,
    res: ServerResponse,
    auth: VerifiedToken,
    body: unknown,
  ): Promise<void> {
    while (this.#sessions.size >= this.#options.maxSessions) {
      const [oldest] = this.#sessions.keys();
      await this.#close(oldest);
    }
    const server = this.#options.createServer();
    const owner = ownerOf(auth);
    // JSON responses keep a session's replies plain HTTP; `releaseJsonResponseStreams` stops the
    // MCP SDK (issue #2559) from keeping every request of the session until it closes.
    const transport: StreamableHTTPServerTransport = releaseJsonResponseStreams(
      new StreamableHTTPServerTransport({
        sessionIdGenerator: randomUUID,
        enableJsonResponse: true,
        onsessioninitialized: (id) => {
          this.#sessions.set(id, { transport, server, owner, lastSeen: Date.now() });
        },
      }),
    );
    transport.onclose = () => {
      if (transport.sessionId !== undefined) this.#sessions.delete(transport.sessionId);
    };
    await server.connect(transport);
    await transport.handleRequest(req, res, body);
  }

  async #close(id: string): Promise<void> {
    const session = this.#sessions.get(id);
    this.#sessions.delete(id);
    await session?.server.close().catch(() => undefined);
  }

  #closeIdle(): void {
    const cutoff = Date.now() - this.#options.idleMs;
    for (const [id, session] of this.#sessions) {
      if (session.lastSeen < cutoff) void this.#close(id);
    }
  }

  /** Closes every session. */
  async close(): Promise<void> {
    clearInterval(this.#sweep);
    await Promise.all([...this.#sessions.keys()].map((id) => this.#close(id)));
  }
}
