import { exec } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { McpError } from '@modelcontextprotocol/sdk/types.js';
import { freePort } from '../helpers/server.ts';
import {
  REPO,
  startProcess,
  startServeProcess,
  USER_PATH,
  type ExampleProcess,
  type ServeProcess,
} from '../helpers/serve-process.ts';

const run = promisify(exec);

/** The commands of the README's "To try it end to end" block, continuation lines joined. */
async function tryItCommands(): Promise<string[]> {
  const readme = await readFile(join(REPO, 'README.md'), 'utf8');
  const block = /To try it end to end[^\n]*\n\n```sh\n([\s\S]*?)```/.exec(readme)![1]!;
  return block
    .replace(/\\\n\s*/g, '')
    .split('\n')
    .filter((line) => line.trim() !== '' && !line.startsWith('#'));
}

/**
 * The README's gateway block run line by line, each in a shell of its own as a user types it
 * beside `npm start` on the embedded default. Only the ports differ: free ones replace 3000 and
 * 4100, and the gateway listens on a free port while keeping the resource the README's token is
 * for (`--resource http://localhost:4200/mcp`, listed in the shipped scopes.json).
 */
describe(
  'trying the gateway as the README shows, as separate processes',
  { timeout: 300_000 },
  () => {
    let server: ServeProcess;
    let upstream: ExampleProcess | undefined;
    let gateway: ExampleProcess | undefined;
    let commands: string[];
    let gatewayUrl = '';
    let upstreamPort = 0;
    /** A README line with this run's ports. */
    let ported: (line: string) => string;

    beforeAll(async () => {
      commands = await tryItCommands();
      server = await startServeProcess();
      upstreamPort = await freePort();
      ported = (line) =>
        line
          .replaceAll('http://localhost:3000', server.url)
          .replace(/\b4100\b/g, String(upstreamPort));
    }, 300_000);
    afterAll(async () => {
      await gateway?.stop();
      await upstream?.stop();
      await server?.close();
    });

    it('holds the four steps: a plain MCP server, the gateway, an agent with a role, a token', () => {
      expect(commands).toEqual([
        expect.stringMatching(/^PORT=4100 npx node examples\/plain-mcp-server\.ts$/),
        expect.stringMatching(/^ISSUER=\S+ npx mcp-elevate gateway --upstream \S+$/),
        expect.stringMatching(/^npx mcp-elevate clients add --id \S+ --secret \S+ --role viewer$/),
        expect.stringMatching(/^curl .* -d resource=http:\/\/localhost:4200\/mcp \S+\/token$/),
      ]);
    });

    it('a viewer lists and calls the plain server’s tools through the gateway; no role sees none', async () => {
      const [plain, gate, addAgent, curl] = commands.map((line) => ported(line));
      upstream = await startProcess(
        ['sh', '-c', plain!],
        {},
        `http://localhost:${upstreamPort}/healthz`,
      );

      const gatewayPort = await freePort();
      gatewayUrl = `http://localhost:${gatewayPort}/mcp`;
      gateway = await startProcess(
        ['sh', '-c', `${gate} --port ${gatewayPort} --resource http://localhost:4200/mcp`],
        {},
        `http://localhost:${gatewayPort}/.well-known/oauth-protected-resource/mcp`,
      );
      expect(gateway.output()).toContain(`listening on port ${gatewayPort}, all interfaces`);

      const shell = (line: string) =>
        run(line, { cwd: REPO, env: { ...server.env, PATH: USER_PATH, LOG_LEVEL: 'silent' } });
      expect((await shell(addAgent!)).stdout).toMatch(/^created client \S+\n$/);
      const viewer = JSON.parse((await shell(curl!)).stdout) as { access_token: string };

      const client = await connect(viewer.access_token);
      const names = (await client.listTools()).tools.map((tool) => tool.name);
      expect(names).toContain('list_services');
      expect(await client.callTool({ name: 'list_services', arguments: {} })).toMatchObject({
        content: [{ type: 'text', text: 'api, web, worker' }],
      });
      await client.close();

      // The same steps for an agent without a role: an empty list, and -32002 naming the role.
      const id = /--id (\S+)/.exec(addAgent!)![1]!;
      expect(
        (await shell(addAgent!.replaceAll(id, `${id}-norole`).replace(/ --role \S+/, ''))).stdout,
      ).toMatch(/^created client /);
      const none = JSON.parse((await shell(curl!.replaceAll(id, `${id}-norole`))).stdout) as {
        access_token: string;
      };
      const refused = await connect(none.access_token);
      expect((await refused.listTools()).tools).toEqual([]);
      const error = await refused
        .callTool({ name: 'list_services', arguments: {} })
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(McpError);
      expect(error).toMatchObject({ code: -32002, data: { requiredRole: expect.any(String) } });
      await refused.close();
    });

    async function connect(token: string): Promise<Client> {
      const client = new Client({ name: 'readme-reader', version: '1.0.0' });
      await client.connect(
        new StreamableHTTPClientTransport(new URL(gatewayUrl), {
          requestInit: { headers: { authorization: `Bearer ${token}` } },
        }),
      );
      return client;
    }
  },
);
