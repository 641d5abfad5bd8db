import { readFile, rm, writeFile } from 'node:fs/promises';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import {
  startExampleMcpServer,
  type ExampleMcpServer,
  type ExampleMcpServerOptions,
} from '../../src/example/index.ts';
import { registerClient } from '../../src/oidc/clients.ts';
import { freePort, startTestServer, type TestServer } from '../helpers/server.ts';
import { SDK_REDIRECT, TestOAuthProvider } from '../helpers/sdk.ts';

/** The users every example test signs in as. */
export const USERS = {
  developer: { email: 'dev@example.com', password: 'developer password', roles: ['developer'] },
  viewer: { email: 'viewer@example.com', password: 'viewer password', roles: ['viewer'] },
};

/** The example MCP server's own client, for audit ingest. */
export const EXAMPLE_CLIENT = { id: 'example-mcp-server', secret: 'example-mcp-server-secret' };

/** A public client registered ahead of time for the MCP SDK (see {@link sdkProvider}). */
export const SDK_CLIENT_ID = 'mcp-sdk-client';

/**
 * The MCP SDK's OAuth provider for `user`, using the pre-registered public client. With
 * `{ dynamic: true }` it registers itself (RFC 7591) instead, as an SDK client does by default.
 */
export function sdkProvider(
  user: { email: string; password: string },
  options: { dynamic?: boolean; justification?: string } = {},
): TestOAuthProvider {
  const provider = new TestOAuthProvider({
    email: user.email,
    password: user.password,
    justification: options.justification,
  });
  if (options.dynamic !== true) provider.info = { client_id: SDK_CLIENT_ID };
  return provider;
}

/** A real authorization server and a real example MCP server that trusts it. */
export interface Stack {
  t: TestServer;
  example: ExampleMcpServer;
  /** The resource (and MCP endpoint) URL: the example listens on an ephemeral port. */
  resource: string;
  close(): Promise<void>;
}

/**
 * Starts both servers. The example listens on a free port and its resource URL is that address,
 * so the authorization server gets a copy of scopes.json whose resource entry names it.
 */
export async function startStack(
  kind: 'pglite' | 'postgres',
  example: Partial<ExampleMcpServerOptions> = {},
): Promise<Stack> {
  const port = await freePort();
  const resource = `http://127.0.0.1:${port}/mcp`;
  const dir = await mkdtemp(join(tmpdir(), 'mcpe-example-'));
  const scopes = JSON.parse(
    await readFile(new URL('../../scopes.json', import.meta.url), 'utf8'),
  ) as { resources: Record<string, unknown> };
  scopes.resources = { [resource]: Object.values(scopes.resources)[0] };
  const scopesFile = join(dir, 'scopes.json');
  await writeFile(scopesFile, JSON.stringify(scopes));

  const t = await startTestServer(kind, { SCOPES_FILE: scopesFile });
  for (const user of Object.values(USERS)) await t.server.users.create(user);
  await registerClient(t.server.provider, t.server.db.db, {
    id: EXAMPLE_CLIENT.id,
    secret: EXAMPLE_CLIENT.secret,
    grantTypes: ['client_credentials'],
    mcpResource: resource,
  });
  await registerClient(t.server.provider, t.server.db.db, {
    id: SDK_CLIENT_ID,
    redirectUris: [SDK_REDIRECT],
    grantTypes: ['authorization_code'],
  });
  const server = await startExampleMcpServer({
    issuer: t.url,
    port,
    host: '127.0.0.1',
    resource,
    ...example,
  });
  const stack: Stack = {
    t,
    example: server,
    resource,
    async close() {
      await server.close();
      await stack.t.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
  return stack;
}

/** A connected MCP SDK client and its transport. */
export interface Connected {
  client: Client;
  transport: StreamableHTTPClientTransport;
}

/** The authorization code the provider's last (simulated) browser round trip brought back. */
export function authorizationCode(provider: TestOAuthProvider): string {
  const callback = provider.callback!;
  const error = callback.searchParams.get('error');
  if (error)
    throw new Error(
      `authorization failed: ${error} ${callback.searchParams.get('error_description') ?? ''}`,
    );
  return callback.searchParams.get('code')!;
}

/**
 * Connects the MCP SDK client the way an application does: the first attempt gets 401, the SDK
 * discovers the authorization server from the resource metadata and "redirects" (the provider
 * drives the login pages), the application hands the code to `finishAuth` and connects again.
 */
export async function connect(
  url: string,
  provider: TestOAuthProvider,
  fetchFn?: typeof fetch,
): Promise<Connected> {
  const make = (): Connected => ({
    client: new Client({ name: 'example-e2e', version: '1.0.0' }),
    transport: new StreamableHTTPClientTransport(new URL(url), {
      authProvider: provider,
      ...(fetchFn && { fetch: fetchFn }),
    }),
  });
  let connected = make();
  try {
    await connected.client.connect(connected.transport);
    return connected;
  } catch (error) {
    if (!(error instanceof UnauthorizedError)) throw error;
  }
  await connected.transport.finishAuth(authorizationCode(provider));
  connected = make();
  await connected.client.connect(connected.transport);
  return connected;
}

/** Connects with a fixed access token and no way to re-authorize (a 401 stays a 401). */
export async function connectWithToken(url: string, token: string): Promise<Client> {
  const client = new Client({ name: 'example-e2e-static', version: '1.0.0' });
  await client.connect(
    new StreamableHTTPClientTransport(new URL(url), {
      requestInit: { headers: { Authorization: `Bearer ${token}` } },
    }),
  );
  return client;
}

/** The JSON a tool returned as its text content. */
export function toolJson(result: unknown): any {
  const content = (result as { content: Array<{ type: string; text: string }> }).content;
  return JSON.parse(content[0]!.text);
}

/** Polls `check` every `intervalMs` until it returns true or `timeoutMs` passes; resolves whether it succeeded. */
export async function waitFor(
  check: () => Promise<boolean>,
  timeoutMs: number,
  intervalMs = 200,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return true;
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
