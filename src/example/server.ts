import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import {
  createMcpProtection,
  metadataPath,
  type McpProtection,
  type McpProtectionOptions,
} from '../verifier/index.ts';
import { unlistedResource } from '../verifier/policy-client/decisions.ts';
import { ExampleStore } from './data.ts';
import { McpSessions } from './sessions.ts';
import { registerExampleTools } from './tools.ts';

/** Options of {@link startExampleMcpServer}. */
export interface ExampleMcpServerOptions {
  /** The authorization server's issuer. Required. */
  issuer: string;
  /** Port to listen on; `0` picks a free one. Default `4000`. */
  port?: number;
  /** Interface to listen on. Default `'0.0.0.0'` (all, as in a container). */
  host?: string;
  /**
   * The resource URL tokens must be issued for: it has to match a `resources` entry of the
   * server's scopes.json. Its path is where the MCP endpoint is served. It may differ from the
   * listening address (behind a proxy, or in tests). Default `http://localhost:<port>/mcp`.
   */
  resource?: string;
  /** The example's own OAuth client, to send audit events. Default: none (no audit). */
  clientId?: string;
  /** Secret of `clientId`. Default: none. */
  clientSecret?: string;
  /** Further protection settings (e.g. `audit: { retryMaxMs }`). Default: none. */
  protection?: Omit<McpProtectionOptions, 'issuer' | 'resource' | 'clientId' | 'clientSecret'>;
}

/** A running example MCP server. */
export interface ExampleMcpServer {
  /** The MCP endpoint on the listening address, e.g. `http://127.0.0.1:4000/mcp`. */
  url: string;
  /** The resource URL its tokens are for; MCP clients should connect to this one. */
  resource: string;
  /** The verifier setup, for its metrics, policy and audit client. */
  protection: McpProtection;
  /** Closes sessions, stops listening, flushes audit events. */
  close(): Promise<void>;
}

const NAME = { name: 'mcp-elevate-example', version: '1.0.0' };

function send(res: ServerResponse, status: number, body: string, type = 'application/json'): void {
  res.writeHead(status, { 'Content-Type': type, 'Cache-Control': 'no-store' });
  res.end(body);
}

/**
 * Starts the example MCP server of ARCHITECTURE.md §7.8: deployment tools over Streamable HTTP at the
 * resource's path, protected by the verifier (`createMcpProtection`), with the Protected Resource
 * Metadata at `/.well-known/oauth-protected-resource<path>`, Prometheus metrics at `/metrics`
 * (unauthenticated, like most scrape targets: keep it off public networks) and `/healthz`.
 *
 * @throws PolicyClientError when the authorization server's policy cannot be loaded at start;
 *   Error when its catalogue does not list `resource` (no token could be issued for it).
 */
export async function startExampleMcpServer(
  options: ExampleMcpServerOptions,
): Promise<ExampleMcpServer> {
  const routes: { handle?: (req: IncomingMessage, res: ServerResponse) => void } = {};
  // Until the policy is loaded nothing can be decided: say so rather than leave requests hanging.
  const http = createServer((req, res) =>
    routes.handle
      ? routes.handle(req, res)
      : send(res, 503, JSON.stringify({ error: 'temporarily_unavailable' })),
  );
  http.listen(options.port ?? 4000, options.host ?? '0.0.0.0');
  await once(http, 'listening');
  const { port } = http.address() as AddressInfo;
  const resource = options.resource ?? `http://localhost:${port}/mcp`;
  const closeHttp = async () => {
    const closed = once(http, 'close');
    http.close();
    http.closeAllConnections();
    await closed;
  };

  let protection: McpProtection;
  try {
    protection = await createMcpProtection({
      ...options.protection,
      issuer: options.issuer,
      resource,
      clientId: options.clientId,
      clientSecret: options.clientSecret,
    });
  } catch (error) {
    await closeHttp();
    throw error;
  }
  // A resource the issuer does not list gets no tokens: refuse to serve it rather than run unusable.
  const unlisted = unlistedResource(protection.policy.current(), resource);
  if (unlisted !== undefined) {
    await protection.close();
    await closeHttp();
    throw new Error(unlisted);
  }

  const store = new ExampleStore();
  const sessions = new McpSessions({
    createServer: () => {
      const server = new McpServer(NAME, {
        instructions: 'Deployment tools. Elevated scopes are requested on demand.',
      });
      registerExampleTools(protection.protectMcpServer(server), store);
      return server;
    },
  });
  const mcpPath = new URL(resource).pathname;
  const documentPath = metadataPath(resource);

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/metrics' && req.method === 'GET') {
      return send(
        res,
        200,
        await protection.metricsRegistry.metrics(),
        protection.metricsRegistry.contentType,
      );
    }
    if (path === '/healthz') return send(res, 200, JSON.stringify({ status: 'ok' }));
    if (path !== mcpPath && path !== documentPath)
      return send(res, 404, JSON.stringify({ error: 'not_found' }));
    // The guard answers the metadata document itself, and anything unauthenticated or refused.
    const auth = await protection.guard(req, res);
    if (auth === undefined) return;
    if (path !== mcpPath) return send(res, 405, JSON.stringify({ error: 'method_not_allowed' }));
    await sessions.handle(req, res, auth);
  };

  routes.handle = (req, res) => {
    handle(req, res).catch(() => {
      // Internal details never reach the client.
      if (!res.headersSent) send(res, 500, JSON.stringify({ error: 'server_error' }));
      else res.end();
    });
  };

  const host =
    options.host === undefined || options.host === '0.0.0.0' ? '127.0.0.1' : options.host;
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}${mcpPath}`,
    resource,
    protection,
    async close() {
      await sessions.close();
      await closeHttp();
      await protection.close();
    },
  };
}
