import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { auth } from '@modelcontextprotocol/sdk/client/auth.js';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestOAuthProvider } from '../helpers/sdk.ts';
import { freePort } from '../helpers/server.ts';
import {
  REPO,
  npxMcpElevate,
  startExampleProcess,
  startServeProcess,
  type ExampleProcess,
  type ServeProcess,
} from '../helpers/serve-process.ts';
import { HandWrittenClient, type CallOutcome, type ClientBehaviour } from './oauth-client.ts';

const DEV = { email: 'dev@example.com', password: 'developer password' };
const REDIRECT = 'http://127.0.0.1:9/callback';
const BASE = 'mcp:tools:read mcp:resources:read';
const STAGING = { service: 'billing', environment: 'staging', version: '1.9.0' };
const SECRET = 'post-client-secret-0123456789abcdef';

const scopesOf = (token: string) => String(decodeJwt(token).scope).split(' ').sort();
const challengedScope = (outcome: CallOutcome) =>
  /scope="([^"]*)"/
    .exec('challenge' in outcome ? (outcome.challenge ?? '') : '')?.[1]
    ?.split(' ')
    .sort();

/** The version a deploy_service call answered as deployed (undefined when it was refused). */
function deployedVersion(outcome: CallOutcome): string | undefined {
  if (!('result' in outcome) || outcome.result.isError) return undefined;
  return (JSON.parse(outcome.result.content[0]!.text) as { deployment: { version: string } })
    .deployment.version;
}

/** The SDK's client storage, also keeping every authorization URL it was sent to. */
class RecordingProvider extends TestOAuthProvider {
  readonly authorizationUrls: URL[] = [];
  override async redirectToAuthorization(url: URL) {
    this.authorizationUrls.push(url);
    await super.redirectToAuthorization(url);
  }
}

/**
 * Clients nobody here wrote, or written to behave like ones in use, against `npm start` and
 * `npx mcp-elevate example-mcp-server` as separate processes: each discovers the authorization
 * server from the MCP server's 401, signs a developer in, is challenged with
 * `403 insufficient_scope` for a staging deployment, steps up, and deploys.
 */
describe('a client matrix against the server and the example MCP server, as separate processes', () => {
  let server: ServeProcess;
  let example: ExampleProcess;
  let resource = '';
  let scopesDir = '';

  beforeAll(async () => {
    // The example's resource must be a resource of scopes.json: the server gets a copy whose
    // resource entry names the free port the example listens on.
    const port = await freePort();
    resource = `http://localhost:${port}/mcp`;
    scopesDir = await mkdtemp(join(tmpdir(), 'mcpe-scopes-'));
    const scopes = JSON.parse(await readFile(join(REPO, 'scopes.json'), 'utf8')) as {
      resources: Record<string, unknown>;
    };
    scopes.resources = { [resource]: Object.values(scopes.resources)[0] };
    await writeFile(join(scopesDir, 'scopes.json'), JSON.stringify(scopes));

    server = await startServeProcess({ env: { SCOPES_FILE: join(scopesDir, 'scopes.json') } });
    // The developer who signs in everywhere, created with the CLI beside the running server.
    const added = await npxMcpElevate(
      ['users', 'add', '--email', DEV.email, '--password', DEV.password, '--role', 'developer'],
      server.env,
    );
    expect(added, added.stderr).toMatchObject({ code: 0, stderr: '' });
    example = await startExampleProcess(port, { ISSUER: server.url, EXAMPLE_RESOURCE: resource });
  }, 400_000);
  afterAll(async () => {
    await example?.stop();
    await server?.close();
    if (scopesDir) await rm(scopesDir, { recursive: true, force: true });
  });

  /** A public client registered the way MCP clients do (RFC 7591), for refresh too. */
  async function registerPublicClient(name: string): Promise<string> {
    const res = await fetch(`${server.url}/reg`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        client_name: name,
        redirect_uris: [REDIRECT],
        token_endpoint_auth_method: 'none',
        grant_types: ['authorization_code', 'refresh_token'],
      }),
    });
    expect(res.status).toBe(201);
    return ((await res.json()) as { client_id: string }).client_id;
  }

  /** Discovery → sign-in → a read-only call → 403 on a staging deployment → step-up → deployed. */
  async function stepUpAndDeploy(client: HandWrittenClient, version: string): Promise<void> {
    await client.discover();
    expect(client.resource).toBe(resource);
    await client.authorize(client.behaviour.firstScope);
    expect(decodeJwt(client.tokens!.access_token).aud).toBe(resource);
    await client.initialize();
    const list = await client.callTool('list_services', {});
    expect(list.status).toBe(200);

    const { first, last } = await client.callWithStepUp('deploy_service', { ...STAGING, version });
    expect(first.status).toBe(403);
    expect('challenge' in first && first.challenge).toContain('error="insufficient_scope"');
    expect(challengedScope(first)).toEqual([...BASE.split(' '), 'mcp:deploy:staging'].sort());
    expect(deployedVersion(last)).toBe(version);
    const claims = decodeJwt(client.tokens!.access_token);
    expect(claims.aud).toBe(resource);
    expect(String(claims.scope).split(' ')).toContain('mcp:deploy:staging');
    expect(claims.elevation).toEqual(expect.any(String));
  }

  it(
    '(a) the MCP SDK client: registers, steps up by replacing its scope with the challenged one, and refreshes without scope',
    { timeout: 600_000 },
    async () => {
      const provider = new RecordingProvider({ ...DEV, justification: 'release 1.9.0 of billing' });
      const connect = async () => {
        const client = new Client({ name: 'sdk-matrix', version: '1.0.0' });
        const transport = new StreamableHTTPClientTransport(new URL(resource), {
          authProvider: provider,
        });
        try {
          await client.connect(transport);
          return { client, transport };
        } catch (error) {
          if (!(error instanceof UnauthorizedError)) throw error;
        }
        await transport.finishAuth(provider.callback!.searchParams.get('code')!);
        const again = new Client({ name: 'sdk-matrix', version: '1.0.0' });
        const second = new StreamableHTTPClientTransport(new URL(resource), {
          authProvider: provider,
        });
        await again.connect(second);
        return { client: again, transport: second };
      };
      const { client, transport } = await connect();
      try {
        expect(provider.info?.client_id).toEqual(expect.any(String));
        expect(scopesOf(provider.saved!.access_token)).toEqual(BASE.split(' ').sort());
        expect(
          (await client.callTool({ name: 'list_services', arguments: {} })).isError,
        ).toBeFalsy();

        const call = { name: 'deploy_service', arguments: STAGING };
        await expect(client.callTool(call)).rejects.toBeInstanceOf(UnauthorizedError);
        // It replaced its scope with exactly what the 403 named.
        const stepUp = provider.authorizationUrls.at(-1)!;
        expect(stepUp.searchParams.get('scope')!.split(' ').sort()).toEqual(
          [...BASE.split(' '), 'mcp:deploy:staging'].sort(),
        );
        await transport.finishAuth(provider.callback!.searchParams.get('code')!);
        const deployed = await client.callTool(call);
        expect(deployed.isError).toBeFalsy();
        expect(scopesOf(provider.saved!.access_token)).toContain('mcp:deploy:staging');
      } finally {
        await client.close();
      }

      // With offline_access it gets a refresh token, and refreshes with no scope in the request.
      const serverUrl = new URL(resource);
      expect(await auth(provider, { serverUrl, scope: `${BASE} offline_access` })).toBe('REDIRECT');
      expect(provider.authorizationUrls.at(-1)!.searchParams.get('prompt')).toBe('consent');
      expect(
        await auth(provider, {
          serverUrl,
          authorizationCode: provider.callback!.searchParams.get('code')!,
        }),
      ).toBe('AUTHORIZED');
      const before = provider.saved!;
      expect(before.refresh_token).toEqual(expect.any(String));
      const refreshBodies: URLSearchParams[] = [];
      const recording: typeof fetch = async (input, init) => {
        if (String(input).endsWith('/token'))
          refreshBodies.push(new URLSearchParams(String(init?.body)));
        return fetch(input, init);
      };
      const urlsBefore = provider.authorizationUrls.length;
      expect(await auth(provider, { serverUrl, fetchFn: recording })).toBe('AUTHORIZED');
      expect(provider.authorizationUrls.length).toBe(urlsBefore);
      expect(refreshBodies.map((b) => [b.get('grant_type'), b.has('scope')])).toEqual([
        ['refresh_token', false],
      ]);
      expect(provider.saved!.refresh_token).not.toBe(before.refresh_token);
      expect(provider.saved!.access_token).not.toBe(before.access_token);
      expect(decodeJwt(provider.saved!.access_token).aud).toBe(resource);
      expect(scopesOf(provider.saved!.access_token)).toEqual(
        expect.arrayContaining(BASE.split(' ')),
      );
      const refreshed = await connect();
      expect(
        (await refreshed.client.callTool({ name: 'list_services', arguments: {} })).isError,
      ).toBeFalsy();
      await refreshed.client.close();
    },
  );

  const hand =
    (behaviour: Omit<ClientBehaviour, 'clientId'> & { clientId?: string }) =>
    async (name: string) =>
      new HandWrittenClient(
        resource,
        { clientId: behaviour.clientId ?? (await registerPublicClient(name)), ...behaviour },
        DEV,
        REDIRECT,
      );

  it(
    '(b) a client that asks for previous ∪ challenged scopes on step-up (SEP-2350) keeps its refresh token and the elevation across a refresh',
    { timeout: 600_000 },
    async () => {
      const client = await hand({ stepUp: 'union', firstScope: `${BASE} offline_access` })(
        'union client',
      );
      await stepUpAndDeploy(client, '2.1.0');
      expect(client.requestedScopes.at(-1)!.split(' ').sort()).toEqual(
        [...BASE.split(' '), 'mcp:deploy:staging', 'offline_access'].sort(),
      );
      expect(client.tokens!.refresh_token).toEqual(expect.any(String));
      expect((await client.refresh()).status).toBe(200);
      expect(scopesOf(client.tokens!.access_token)).toContain('mcp:deploy:staging');
      expect(
        deployedVersion(await client.callTool('deploy_service', { ...STAGING, version: '2.1.1' })),
      ).toBe('2.1.1');
    },
  );

  it(
    '(c) a client that omits resource on refresh gets a token for the granted resource',
    { timeout: 600_000 },
    async () => {
      const client = await hand({
        stepUp: 'union',
        firstScope: `${BASE} offline_access`,
        refreshWithoutResource: true,
      })('no-resource refresh');
      await stepUpAndDeploy(client, '2.2.0');
      const used = client.tokens!.refresh_token!;
      const res = await client.refresh();
      expect(res.status, await res.clone().text()).toBe(200);
      expect(decodeJwt(client.tokens!.access_token).aud).toBe(resource);
      expect(scopesOf(client.tokens!.access_token)).toContain('mcp:deploy:staging');
      expect(
        deployedVersion(await client.callTool('deploy_service', { ...STAGING, version: '2.2.1' })),
      ).toBe('2.2.1');
      // Rotated: the refresh token it used is spent.
      client.tokens = { ...client.tokens!, refresh_token: used };
      expect((await client.refresh()).status).toBe(400);
    },
  );

  it(
    "(d) a client that spells the resource with an upper-case host or a trailing slash gets the catalogue's spelling in aud",
    { timeout: 600_000 },
    async () => {
      const spell = (r: string, endpoint: string) =>
        endpoint === 'authorize'
          ? r.replace('localhost', 'LOCALHOST')
          : endpoint === 'token'
            ? `${r}/`
            : r.replace('http://localhost', 'HTTP://LocalHost').concat('/');
      const client = await hand({ stepUp: 'union', firstScope: `${BASE} offline_access`, spell })(
        'spelling client',
      );
      await stepUpAndDeploy(client, '2.3.0');
      expect((await client.refresh()).status).toBe(200);
      expect(decodeJwt(client.tokens!.access_token).aud).toBe(resource);
      expect(
        deployedVersion(await client.callTool('deploy_service', { ...STAGING, version: '2.3.1' })),
      ).toBe('2.3.1');
    },
  );

  it(
    '(e) a confidential client added with the CLI authenticating with client_secret_post',
    { timeout: 600_000 },
    async () => {
      const added = await npxMcpElevate(
        [
          'clients',
          'add',
          '--id',
          'post-client',
          '--secret',
          SECRET,
          '--auth-method',
          'client_secret_post',
          '--redirect-uri',
          REDIRECT,
        ],
        server.env,
      );
      expect(added).toMatchObject({ code: 0, stdout: 'created client post-client\n', stderr: '' });
      const client = await hand({
        clientId: 'post-client',
        clientSecret: SECRET,
        stepUp: 'replace',
        firstScope: BASE,
      })('');
      await stepUpAndDeploy(client, '2.4.0');
      expect(decodeJwt(client.tokens!.access_token).client_id).toBe('post-client');
      // A confidential client cannot leave its secret out (authenticate as a public client), nor
      // send a wrong one: the generic invalid_client either way.
      const exchange = (body: Record<string, string>) =>
        fetch(`${server.url}/token`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({
            grant_type: 'authorization_code',
            code: 'spent',
            redirect_uri: REDIRECT,
            code_verifier: 'x'.repeat(43),
            ...body,
          }),
        });
      expect((await exchange({ client_id: 'post-client', client_secret: SECRET })).status).toBe(
        400,
      );
      expect(
        (await exchange({ client_id: 'post-client', client_secret: 'not the secret' })).status,
      ).toBe(401);
      const refused = await exchange({ client_id: 'post-client' });
      expect(refused.status).toBe(401);
      expect(((await refused.json()) as { error: string }).error).toBe('invalid_client');
    },
  );
});
