import { InsufficientScopeError, JsonRpcParseError, PayloadTooLargeError } from '../errors.ts';
import type { TokenVerifier, VerifiedToken } from '../token/types.ts';
import { credentialHeaders, schemeOf, verifyBearer } from './bearer.ts';
import { DEFAULT_BODY_LIMIT, readJsonRpcBody, type RequestWithBody } from './body.ts';
import { challenge } from './challenge.ts';
import { HEADER_MISMATCH, headerMismatch, requestId } from './routing-headers.ts';
import { SESSION_HEADER, SessionOwners } from './sessions.ts';
import type { GuardAllowance } from './allowed-calls.ts';
import { gateToolCalls, type DecideToolCall } from './decide.ts';
import {
  metadataPath,
  metadataUrl,
  protectedResourceMetadata,
  type ProtectedResourceMetadataOptions,
} from './metadata.ts';

/** Options shared by `nodeHttpAuth`, `expressAuth` and `koaAuth`. */
export interface ResourceServerAuthOptions {
  /** The token verifier from `createTokenVerifier`; share one so its caches are shared. Required. */
  verifier: TokenVerifier;
  /**
   * Protected Resource Metadata. Defaults: `resource` = the verifier's resource,
   * `authorizationServers` = `[verifier's issuer]`; see `protectedResourceMetadata` for the rest.
   */
  metadata?: Partial<ProtectedResourceMetadataOptions>;
  /** Answer `GET /.well-known/oauth-protected-resource<path>` with the metadata. Default `true`. */
  serveMetadata?: boolean;
  /** Scopes every token carries, merged into a step-up challenge's `scope`. Default `[]`. */
  baseScopes?: string[];
  /**
   * Decides each JSON-RPC `tools/call` before the MCP server runs; the guard then reads every
   * POST body and refuses `Mcp-Method` / `Mcp-Name` headers that contradict it. Default: no
   * decision (and no body read).
   */
  decide?: DecideToolCall;
  /** Largest JSON-RPC body read for `decide`, in bytes. Default 1 MiB. */
  bodyLimitBytes?: number;
  /** Told about unexpected errors (those answered with a bare 500), e.g. to log them. Default: none. */
  onError?: (error: unknown) => void;
  /**
   * Bind each MCP session to the client and user that opened it (see `SessionOwners`): a request
   * naming a session it did not open, or one this guard does not know, gets 404 as an unknown
   * session would. Default `true`; turn it off only where something else binds sessions.
   */
  bindSessions?: boolean;
}

/**
 * What an adapter does with a request: let it through with its token (and the tool calls `decide`
 * allowed, for `authInfoFor`), or answer it now.
 */
export type GuardResult =
  | {
      kind: 'pass';
      auth: VerifiedToken;
      allowance?: GuardAllowance;
      /** Set when the response may open a session: learn it with `learnSessionOpenedBy`. */
      sessions?: SessionOwners;
    }
  | { kind: 'respond'; status: number; headers: Record<string, string>; body: unknown };

/** The framework-neutral pipeline every adapter runs; see {@link createGuard}. */
export type Guard = (req: RequestWithBody, target: string) => Promise<GuardResult>;

const CORS = {
  'Access-Control-Allow-Origin': '*',
  'Access-Control-Allow-Methods': 'GET, HEAD, OPTIONS',
  'Access-Control-Allow-Headers': '*',
};

/** Whether a parsed body is an MCP `initialize` request, the one that opens a session. */
function isInitialize(body: unknown): boolean {
  return (
    typeof body === 'object' &&
    body !== null &&
    (body as { method?: unknown }).method === 'initialize'
  );
}

/**
 * The URL a DPoP proof's `htu` must name (RFC 9449 §4.3): the path and query the client sent, on
 * the resource's public origin. Only the path is taken from the client: an absolute-form target
 * (`POST http://elsewhere/mcp`, RFC 9112 §3.2.2) or a path starting `//` names a host of the
 * client's choosing, and a target that is no URL at all yields one no proof names (a refusal,
 * never a failure of the server).
 */
export function requestUrl(target: string, origin: string): string {
  let path = target;
  if (!path.startsWith('/')) {
    try {
      const absolute = new URL(target);
      path = `${absolute.pathname}${absolute.search}`;
    } catch {
      path = '/';
    }
  }
  try {
    // Appended, not resolved: `new URL('//host/x', origin)` would be host's.
    return new URL(`${origin}${path}`).href;
  } catch {
    return `${origin}/`;
  }
}

/**
 * Builds the request pipeline: serve metadata → authenticate → bound session → (for `decide`)
 * read the JSON-RPC body → refuse `Mcp-Method` / `Mcp-Name` headers that contradict it (400,
 * JSON-RPC {@link HEADER_MISMATCH}; see `headerMismatch`) → decide tool calls. It never throws:
 * every failure becomes a response, and unexpected errors a bare `500 server_error`.
 * @param target in `createGuard(...)(req, target)`: the request path and query as the client sent
 *   them (`req.originalUrl` under Express/Koa mounting), used for the metadata route and DPoP `htu`.
 * @throws TypeError on invalid options.
 */
export function createGuard(options: ResourceServerAuthOptions): Guard {
  const { verifier } = options;
  const resource = options.metadata?.resource ?? verifier.resource;
  const document = protectedResourceMetadata({
    dpopSigningAlgValuesSupported:
      verifier.dpopAlgorithms === undefined ? undefined : [...verifier.dpopAlgorithms],
    ...options.metadata,
    resource,
    authorizationServers: options.metadata?.authorizationServers ?? [verifier.issuer],
  });
  const documentPath = metadataPath(resource);
  const challengeOptions = {
    resourceMetadataUrl: metadataUrl(resource),
    baseScopes: options.baseScopes ?? [],
    dpopAlgorithms: document.dpop_signing_alg_values_supported,
  };
  const origin = new URL(resource).origin;
  const sessions = options.bindSessions === false ? undefined : new SessionOwners();
  // Answered as the MCP SDK answers an unknown session: nothing told about whose it is.
  const unknownSession = {
    kind: 'respond',
    status: 404,
    headers: {},
    body: { jsonrpc: '2.0', id: null, error: { code: -32001, message: 'Session not found' } },
  } as const;

  async function run(req: RequestWithBody, target: string): Promise<GuardResult> {
    const method = req.method ?? 'GET';
    if (options.serveMetadata !== false && target.split('?')[0] === documentPath) {
      if (method === 'GET' || method === 'HEAD') {
        return {
          kind: 'respond',
          status: 200,
          headers: { ...CORS, 'Cache-Control': 'public, max-age=300' },
          body: document,
        };
      }
      if (method === 'OPTIONS')
        return { kind: 'respond', status: 204, headers: CORS, body: undefined };
    }
    const headers = credentialHeaders(req.rawHeaders);
    // DPoP's htu is the URL the client addressed; the resource's origin is the public one even
    // behind a proxy, while the Host header is client-controlled. Resolved only for a request
    // with a DPoP proof: no other compares it.
    const request = { method, url: headers.dpop === undefined ? '' : requestUrl(target, origin) };
    const auth = await verifyBearer(verifier, headers.authorization, headers.dpop, request);
    const session = req.headers[SESSION_HEADER];
    if (sessions !== undefined && session !== undefined && !sessions.mayUse(session, auth))
      return unknownSession;
    // Only a POST without a session can open one (MCP `initialize`).
    const opens = sessions !== undefined && session === undefined && method === 'POST';
    const { decide } = options;
    if (decide === undefined || method !== 'POST')
      return opens ? { kind: 'pass', auth, sessions } : { kind: 'pass', auth };
    const body = await readJsonRpcBody(req, options.bodyLimitBytes ?? DEFAULT_BODY_LIMIT);
    // What is decided must be what intermediaries routed and metered on (MCP 2026-07-28).
    const mismatch = headerMismatch(req.rawHeaders, body);
    if (mismatch !== undefined) {
      return {
        kind: 'respond',
        status: 400,
        headers: {},
        body: {
          jsonrpc: '2.0',
          id: requestId(body),
          error: { code: HEADER_MISMATCH, message: mismatch },
        },
      };
    }
    const watch = opens && isInitialize(body) ? { sessions } : undefined;
    const outcome = await gateToolCalls(body, auth, decide);
    if (outcome.kind === 'deny')
      return { kind: 'respond', status: 200, headers: {}, body: outcome.body };
    if (outcome.kind === 'step_up') {
      throw new InsufficientScopeError(outcome.scopes, 'this tool call needs additional scopes', {
        dpop: auth.jkt !== undefined,
      });
    }
    return { kind: 'pass', auth, allowance: { decide, calls: outcome.calls }, ...watch };
  }

  return async (req, target) => {
    try {
      return await run(req, target);
    } catch (error) {
      if (error instanceof JsonRpcParseError) {
        return {
          kind: 'respond',
          status: 400,
          headers: {},
          body: { jsonrpc: '2.0', id: null, error: { code: -32700, message: 'Parse error' } },
        };
      }
      // Unread bytes may still be in flight; closing the connection beats draining a huge upload.
      const extra: Record<string, string> =
        error instanceof PayloadTooLargeError ? { Connection: 'close' } : {};
      const response = challenge(error, challengeOptions, {
        scheme: schemeOf(credentialHeaders(req.rawHeaders).authorization),
      });
      if (response.status === 500) options.onError?.(error);
      return {
        kind: 'respond',
        status: response.status,
        headers: { ...response.headers, ...extra },
        body: response.body,
      };
    }
  };
}
