import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { registerClient } from '../../src/oidc/clients.ts';
import { startGateway, type Gateway, type GatewayOptions } from '../../src/gateway/index.ts';
import { freePort, startTestServer, type TestServer } from '../helpers/server.ts';
import { SDK_REDIRECT } from '../helpers/sdk.ts';
import { SDK_CLIENT_ID, USERS } from '../example/stack.ts';
import { startUpstream, type Upstream } from './upstream.ts';

/** The gateway's own client, for audit ingest. */
export const GATEWAY_CLIENT = { id: 'mcp-gateway', secret: 'mcp-gateway-secret-0123456789' };
/** The audit client of the second route: each resource reports as its own MCP server. */
export const JSON_ROUTE_CLIENT = {
  id: 'mcp-gateway-json',
  secret: 'mcp-gateway-json-secret-0123456789',
};

/** A key the gateway signs the principal header with, shared with the test upstream. */
export const PRINCIPAL_SECRET = 'principal-header-key-0123456789-abcdef';

type RouteOverrides = Partial<GatewayOptions['routes'][number]>;

/** An authorization server, two plain upstreams (stateful SSE, stateless JSON) and the gateway. */
export interface GatewayStack {
  t: TestServer;
  gateway: Gateway;
  stateful: Upstream;
  stateless: Upstream;
  /** Resource (and MCP endpoint) of the stateful upstream through the gateway. */
  sse: string;
  /** Resource of the stateless upstream through the gateway. */
  json: string;
  /** Further resources of scopes.json, `http://127.0.0.1:<free port>/mcp`, for more gateways. */
  spare: string[];
  close(): Promise<void>;
}

/**
 * Starts everything. The gateway's port is chosen first so that scopes.json can name its two
 * resources, `/sse/mcp` and `/json/mcp`, with the example's scopes.
 */
export async function startGatewayStack(
  kind: 'pglite' | 'postgres',
  options: { spare?: number; route?: RouteOverrides } = {},
): Promise<GatewayStack> {
  const port = await freePort();
  const spare: string[] = [];
  for (let i = 0; i < (options.spare ?? 0); i++)
    spare.push(`http://127.0.0.1:${await freePort()}/mcp`);
  const sse = `http://127.0.0.1:${port}/sse/mcp`;
  const json = `http://127.0.0.1:${port}/json/mcp`;
  const dir = await mkdtemp(join(tmpdir(), 'mcpe-gateway-'));
  const scopes = JSON.parse(
    await readFile(new URL('../../scopes.json', import.meta.url), 'utf8'),
  ) as { resources: Record<string, unknown> };
  const entry = Object.values(scopes.resources)[0];
  scopes.resources = Object.fromEntries([sse, json, ...spare].map((resource) => [resource, entry]));
  const scopesFile = join(dir, 'scopes.json');
  await writeFile(scopesFile, JSON.stringify(scopes));

  const t = await startTestServer(kind, { SCOPES_FILE: scopesFile });
  for (const user of Object.values(USERS)) await t.server.users.create(user);
  await registerClient(t.server.provider, t.server.db.db, {
    id: GATEWAY_CLIENT.id,
    secret: GATEWAY_CLIENT.secret,
    grantTypes: ['client_credentials'],
    // Audit ingest takes events only from the MCP server of their resource.
    mcpResource: sse,
  });
  await registerClient(t.server.provider, t.server.db.db, {
    id: JSON_ROUTE_CLIENT.id,
    secret: JSON_ROUTE_CLIENT.secret,
    grantTypes: ['client_credentials'],
    mcpResource: json,
  });
  await registerClient(t.server.provider, t.server.db.db, {
    id: SDK_CLIENT_ID,
    redirectUris: [SDK_REDIRECT],
    grantTypes: ['authorization_code'],
  });
  const stateful = await startUpstream({ stateful: true });
  const stateless = await startUpstream({ stateful: false });
  const route = {
    headers: {},
    timeoutMs: 30_000,
    bodyLimitBytes: 1024 * 1024,
    rateLimit: false as const,
    breaker: {},
    ...options.route,
  };
  const gateway = await startGateway({
    issuer: t.url,
    port,
    host: '127.0.0.1',
    clientId: GATEWAY_CLIENT.id,
    clientSecret: GATEWAY_CLIENT.secret,
    routes: [
      {
        ...route,
        path: '/sse/mcp',
        upstream: stateful.url,
        resource: sse,
        principal: { secret: PRINCIPAL_SECRET, header: 'Mcp-Elevate-Principal', ttlSeconds: 60 },
      },
      {
        ...route,
        path: '/json/mcp',
        upstream: stateless.url,
        resource: json,
        audit: { clientId: JSON_ROUTE_CLIENT.id, clientSecret: JSON_ROUTE_CLIENT.secret },
      },
    ],
  });
  return {
    t,
    gateway,
    stateful,
    stateless,
    sse,
    json,
    spare,
    async close() {
      await gateway.close();
      await stateful.close();
      await stateless.close();
      await t.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
