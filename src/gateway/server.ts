import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Registry } from 'prom-client';
import { createGatewayRoute, type GatewayRoute, type GatewayRouteOptions } from './route.ts';

/** Options of {@link startGateway}. */
export interface GatewayOptions {
  /** The authorization server's issuer. Required. */
  issuer: string;
  /** Port; `0` picks a free one. Default `4200`. */
  port?: number;
  /** Interface. Default `'0.0.0.0'`. */
  host?: string;
  /**
   * The protected upstreams. `resource` defaults to `http://localhost:<port><path>` (with the
   * port actually bound).
   */
  routes: Array<
    Omit<
      GatewayRouteOptions,
      'issuer' | 'resource' | 'metricsRegistry' | 'clientId' | 'clientSecret'
    > & {
      resource?: string;
      /**
       * This route's own audit client (registered as the MCP server of its resource). Default:
       * the gateway's `clientId`/`clientSecret`.
       */
      audit?: { clientId: string; clientSecret: string };
    }
  >;
  /**
   * The gateway's OAuth client, to send audit events of routes without their own `audit`.
   * Audit ingest takes its events only for the one resource it is registered as. Default: none.
   */
  clientId?: string;
  /** Secret of `clientId`. Default: none. */
  clientSecret?: string;
  /** Metrics registry. Default: a new one, served on `/metrics`. */
  metricsRegistry?: Registry;
}

/** A running gateway. */
export interface Gateway {
  /** Base URL of the listening address, e.g. `http://127.0.0.1:4200`. */
  url: string;
  port: number;
  routes: GatewayRoute[];
  metricsRegistry: Registry;
  /** Stops listening, closes upstream connections, flushes audit events. */
  close(): Promise<void>;
}

function send(res: ServerResponse, status: number, body: string, type = 'application/json'): void {
  res.writeHead(status, { 'Content-Type': type, 'Cache-Control': 'no-store' });
  res.end(body);
}

/**
 * Starts `mcp-elevate gateway` (ARCHITECTURE.md §11): one HTTP server, one protected route per upstream,
 * each with its Protected Resource Metadata; Prometheus metrics of every route on `/metrics`
 * (unauthenticated, like most scrape targets: keep it off public networks) and `/healthz`.
 * @throws PolicyClientError when a route's policy cannot be loaded at start.
 */
export async function startGateway(options: GatewayOptions): Promise<Gateway> {
  const byPath = new Map<string, GatewayRoute>();
  let ready = false;
  const http = createServer((req, res) => void dispatch(req, res));
  // A request Node cannot parse gets Node's own answer (400, or 431 for oversized headers), as on
  // the authorization server: no 'clientError' listener of ours.
  const registry = options.metricsRegistry ?? new Registry();

  async function dispatch(req: IncomingMessage, res: ServerResponse): Promise<void> {
    res.on('error', () => undefined);
    try {
      if (!ready) return send(res, 503, JSON.stringify({ error: 'temporarily_unavailable' }));
      const path = (req.url ?? '/').split('?')[0];
      const route = byPath.get(path);
      if (route !== undefined) return await route.handle(req, res);
      if (path === '/metrics' && req.method === 'GET')
        return send(res, 200, await registry.metrics(), registry.contentType);
      if (path === '/healthz') return send(res, 200, JSON.stringify({ status: 'ok' }));
      send(res, 404, JSON.stringify({ error: 'not_found' }));
    } catch {
      // Internal details never reach the client.
      if (!res.headersSent) send(res, 500, JSON.stringify({ error: 'server_error' }));
      else res.destroy();
    }
  }

  http.listen(options.port ?? 4200, options.host ?? '0.0.0.0');
  await once(http, 'listening');
  const { port } = http.address() as AddressInfo;
  const closeHttp = async () => {
    const closed = once(http, 'close');
    http.close();
    http.closeAllConnections();
    await closed;
  };

  const routes: GatewayRoute[] = [];
  try {
    for (const route of options.routes) {
      const { audit, ...rest } = route;
      const created = await createGatewayRoute({
        ...rest,
        issuer: options.issuer,
        resource: route.resource ?? `http://localhost:${port}${route.path}`,
        metricsRegistry: registry,
        clientId: audit?.clientId ?? options.clientId,
        clientSecret: audit?.clientSecret ?? options.clientSecret,
      });
      routes.push(created);
      for (const path of [created.path, created.metadataPath]) {
        if (byPath.has(path)) throw new TypeError(`two routes are served at ${path}`);
      }
      byPath.set(created.path, created);
      byPath.set(created.metadataPath, created);
    }
  } catch (error) {
    await Promise.all(routes.map((r) => r.close()));
    await closeHttp();
    throw error;
  }
  ready = true;

  const host =
    options.host === undefined || options.host === '0.0.0.0' ? '127.0.0.1' : options.host;
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    port,
    routes,
    metricsRegistry: registry,
    async close() {
      await closeHttp();
      await Promise.all(routes.map((r) => r.close()));
    },
  };
}
