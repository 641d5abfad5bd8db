import { spawn, type ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { freePort, startTestServer, type TestServer } from '../helpers/server.ts';
import { registerClient } from '../../src/oidc/clients.ts';

const EXAMPLE = new URL('../../examples/protected-mcp-server.ts', import.meta.url);
const RESOURCE = 'http://localhost:4000/mcp';

describe('the README\'s "Protecting an MCP server" example', () => {
  let t: TestServer;
  let child: ChildProcess;
  let port: number;

  beforeAll(async () => {
    t = await startTestServer('pglite');
    await registerClient(t.server.provider, t.server.db.db, {
      id: 'dev-bot',
      secret: 'dev-bot-secret',
      roles: ['developer'],
    });
    port = await freePort();
    child = spawn(process.execPath, [EXAMPLE.pathname], {
      env: { PATH: process.env.PATH, ISSUER: t.url, PORT: String(port), RESOURCE },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    await new Promise<void>((resolve, reject) => {
      child.stdout!.on('data', (d) => {
        out += d;
        if (out.includes('MCP server for')) resolve();
      });
      child.stderr!.on('data', (d) => {
        out += d;
      });
      child.on('exit', () => reject(new Error(out)));
    });
  });
  afterAll(async () => {
    child?.kill();
    await t?.close();
  });

  it('is quoted in the README word for word', async () => {
    const [readme, example] = await Promise.all([
      readFile(new URL('../../README.md', import.meta.url), 'utf8'),
      readFile(EXAMPLE, 'utf8'),
    ]);
    expect(readme).toContain(example.trim());
  });

  it('runs: base scopes list services, a deploy without the elevated scope is challenged', async () => {
    const res = await fetch(`${t.url}/token`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: 'Basic ' + Buffer.from('dev-bot:dev-bot-secret').toString('base64'),
      },
      body: new URLSearchParams({ grant_type: 'client_credentials', resource: RESOURCE }),
    });
    const { access_token } = (await res.json()) as { access_token: string };
    const client = new Client({ name: 'readme-test', version: '1.0.0' });
    await client.connect(
      new StreamableHTTPClientTransport(new URL(`http://127.0.0.1:${port}/mcp`), {
        requestInit: { headers: { authorization: `Bearer ${access_token}` } },
      }),
    );
    const listed = await client.callTool({ name: 'list_services', arguments: {} });
    expect(JSON.stringify(listed.content)).toContain('api, web, worker');
    const challenged = await fetch(`http://127.0.0.1:${port}/mcp`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${access_token}`,
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
      },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 7,
        method: 'tools/call',
        params: {
          name: 'deploy_service',
          arguments: { service: 'api', environment: 'staging', version: '1.2.3' },
        },
      }),
    });
    expect(challenged.status).toBe(403);
    expect(challenged.headers.get('www-authenticate')).toMatch(
      /error="insufficient_scope".*scope="[^"]*mcp:deploy:staging/,
    );
    await client.close();
  });
});
