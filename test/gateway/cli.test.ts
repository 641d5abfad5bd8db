import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { request, type ClientRequest, type IncomingMessage } from 'node:http';
import { readFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  GatewayConfigError,
  gatewayJsonSchema,
  loadGatewayConfig,
  parseGatewayConfig,
} from '../../src/gateway/index.ts';
import { gatewayOptions } from '../../src/gateway/cli.ts';
import { runCli } from '../helpers/cli.ts';
import { freePort } from '../helpers/server.ts';
import { connect, sdkProvider, USERS } from '../example/stack.ts';
import { startGatewayStack, type GatewayStack } from './stack.ts';

const BIN = fileURLToPath(new URL('../../bin/mcp-elevate.js', import.meta.url));
const root = new URL('../../', import.meta.url);

describe('mcp-elevate gateway on the command line', { timeout: 120_000 }, () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mcpe-gateway-cli-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('documents its flags and environment', async () => {
    const result = await runCli(['gateway', '--help'], {});
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('mcp-elevate gateway --upstream URL [--port 4200]');
    expect(result.stdout).toContain('--config FILE');
    expect(result.stdout).toContain('GATEWAY_CLIENT_ID');
  });

  it.each([
    [['--bogus'], "Unknown option '--bogus'"],
    [[], '--upstream (or --config) is required'],
    [
      ['--upstream', 'http://127.0.0.1:1/mcp', '--port', 'eighty'],
      '--port must be a port number (1-65535)',
    ],
    [['--upstream', 'ftp://example.com/mcp'], '--upstream: must be an http(s) URL'],
    [['--upstream', 'http://127.0.0.1:1/mcp', '--host', ''], '--host: '],
    [
      ['--upstream', 'http://127.0.0.1:1/mcp', '--resource', 'not a url'],
      '--resource must be an absolute URL',
    ],
    [['--config', 'gateway.json', '--port', '1'], '--config cannot be combined with --port'],
    [['--config', '/nonexistent/gateway.json'], '/nonexistent/gateway.json: cannot read (ENOENT)'],
    [['--config', '/dev/zero'], '/dev/zero: larger than 1024 KiB'],
    [
      ['--upstream', 'http://user:hunter2@127.0.0.1:1/mcp'],
      '--upstream: must not hold credentials',
    ],
  ])('refuses %j with one line and exit code 2', async (args, message) => {
    const result = await runCli(['gateway', ...args], {});
    expect(result.code).toBe(2);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toContain(message);
    expect(result.stderr).not.toContain('hunter2');
  });

  it.each([
    [{ routes: [] }, 'routes: Too small'],
    [
      { routes: [{ path: 'mcp', upstream: 'http://127.0.0.1:1/mcp' }] },
      'routes.0.path: must be an absolute path',
    ],
    [{ routes: [{ path: '/a', upstream: 'http://h/mcp', timeoutMs: -1 }] }, 'routes.0.timeoutMs'],
    [
      {
        routes: [
          { path: '/a', upstream: 'http://h/mcp' },
          { path: '/a', upstream: 'http://i/mcp' },
        ],
      },
      'duplicate path /a',
    ],
    [{ routes: [{ path: '/a', upstream: 'http://h/mcp', unknown: 1 }] }, 'routes.0'],
    [
      {
        routes: [{ path: '/a', upstream: 'http://h/mcp', principal: { secretEnv: 'NO_SUCH_KEY' } }],
      },
      'NO_SUCH_KEY must hold a key of at least 32 bytes',
    ],
    [
      {
        routes: [
          {
            path: '/a',
            upstream: 'http://h/mcp',
            audit: { clientId: 'gw-a', clientSecretEnv: 'NO_SUCH_SECRET' },
          },
        ],
      },
      '/a: NO_SUCH_SECRET must hold the secret of gw-a',
    ],
    [
      { routes: [{ path: '/a', upstream: 'http://h/mcp', audit: { clientId: 'gw-a' } }] },
      'routes.0.audit.clientSecretEnv',
    ],
    [
      {
        routes: [
          { path: '/a', upstream: 'http://h/mcp', headers: { 'X-Key': { env: 'NO_SUCH_VAR' } } },
        ],
      },
      'environment variable NO_SUCH_VAR is not set',
    ],
    // Longer than a timer can wait: every call would time out at once.
    [
      { routes: [{ path: '/a', upstream: 'http://h/mcp', timeoutMs: 2 ** 31 }] },
      'routes.0.timeoutMs',
    ],
    [
      { routes: [{ path: '/a', upstream: 'http://h/mcp', breaker: { halfOpenAfterMs: 2 ** 31 } }] },
      'routes.0.breaker.halfOpenAfterMs',
    ],
    // Headers the gateway sets or checks itself, in any case.
    ...['Host', 'Transfer-Encoding', 'content-length', 'Mcp-Session-Id', 'Expect'].map((name) => [
      { routes: [{ path: '/a', upstream: 'http://h/mcp', headers: { [name]: 'x' } }] },
      'is a header the gateway sets or checks itself',
    ]),
    ...['Authorization', 'Mcp-Session-Id', 'mcp-method'].map((header) => [
      {
        routes: [{ path: '/a', upstream: 'http://h/mcp', principal: { secretEnv: 'K', header } }],
      },
      'is a header the gateway sets or checks itself',
    ]),
  ] as Array<[unknown, string]>)(
    'refuses the configuration %j naming the field',
    (config, message) => {
      expect(() => gatewayOptions(parseGatewayConfig(config, 'gateway.json'), {})).toThrow(
        GatewayConfigError,
      );
      expect(() => gatewayOptions(parseGatewayConfig(config, 'gateway.json'), {})).toThrow(message);
    },
  );

  it(
    'prints a configuration error as one line and exits with 2',
    { timeout: 180_000 },
    async () => {
      await writeFile(join(dir, 'empty.json'), JSON.stringify({ routes: [] }));
      const invalid = await runCli(['gateway', '--config', join(dir, 'empty.json')], {});
      expect(invalid.code).toBe(2);
      expect(invalid.stderr.trim()).toMatch(/^mcp-elevate: .*empty\.json: routes: Too small/);
      expect(invalid.stderr.trim().split('\n')).toHaveLength(1);
      await writeFile(join(dir, 'broken.json'), '{ "routes": ');
      const broken = await runCli(['gateway', '--config', join(dir, 'broken.json')], {});
      expect(broken.code).toBe(2);
      expect(broken.stderr).toContain('not valid JSON');
    },
  );

  it('exits with one line when the authorization server is unreachable', async () => {
    const result = await runCli(
      ['gateway', '--upstream', 'http://127.0.0.1:1/mcp', '--port', String(await freePort())],
      { ISSUER: `http://127.0.0.1:${await freePort()}` },
    );
    expect(result.code).toBe(1);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toContain('gateway failed to start');
  });

  it('ships gateway.schema.json generated from the zod schema (scripts/generate-gateway-schema.ts) and a valid example', async () => {
    expect(JSON.parse(await readFile(new URL('gateway.schema.json', root), 'utf8'))).toEqual(
      gatewayJsonSchema(),
    );
    const example = await loadGatewayConfig(fileURLToPath(new URL('examples/gateway.json', root)));
    expect(example.routes.map((route) => route.path)).toEqual(['/mcp', '/tickets/mcp']);
  });
});

/** VmRSS (resident set) of a process, in bytes, from /proc. */
async function rss(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]) * 1024;
}

describe('a gateway process streaming a large answer', { timeout: 120_000 }, () => {
  let stack: GatewayStack;
  let child: ChildProcess;
  let url: string;

  beforeAll(async () => {
    stack = await startGatewayStack('pglite', { spare: 1 });
    const resource = stack.spare[0]!;
    child = spawn(
      process.execPath,
      [
        BIN,
        'gateway',
        '--upstream',
        stack.stateless.url,
        '--port',
        new URL(resource).port,
        '--host',
        '127.0.0.1',
        '--resource',
        resource,
      ],
      {
        env: { PATH: process.env.PATH, ISSUER: stack.t.url },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let out = '';
    await new Promise<void>((resolve, reject) => {
      child.stdout!.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        if (out.includes('gateway: ')) resolve();
      });
      child.once('exit', (code) => reject(new Error(`gateway exited with ${code}`)));
    });
    expect(out).toContain(`gateway: ${resource} -> ${stack.stateless.url}`);
    url = resource;
  }, 400_000);
  afterAll(async () => {
    child?.kill('SIGTERM');
    await stack?.close();
  });

  it('refuses to start, in one line (exit 2), for a resource the issuer does not list', async () => {
    const port = await freePort();
    for (const resource of [`http://127.0.0.1:${port}/mcp`, `${stack.spare[0]!}/elsewhere`]) {
      const result = await runCli(
        [
          'gateway',
          '--upstream',
          stack.stateless.url,
          '--port',
          String(port),
          '--resource',
          resource,
        ],
        { ISSUER: stack.t.url },
      );
      expect(result.code).toBe(2);
      expect(result.stderr.trim().split('\n')).toHaveLength(1);
      expect(result.stderr).toContain(`resource ${resource} is not in the issuer's catalogue`);
    }
  });

  it('streams a 40 MB answer: while the client reads nothing, the gateway holds far less than the answer', async () => {
    if (process.platform !== 'linux') return;
    const provider = sdkProvider(USERS.developer);
    const session = await connect(url, provider);
    await session.client.close();
    const bytes = 40 * 1024 * 1024;
    const before = await rss(child.pid!);
    const body = JSON.stringify({
      jsonrpc: '2.0',
      id: 3,
      method: 'tools/call',
      params: { name: 'get_blob', arguments: { bytes } },
    });
    const { res, req } = await new Promise<{ res: IncomingMessage; req: ClientRequest }>(
      (resolve, reject) => {
        const req = request(
          url,
          {
            method: 'POST',
            headers: {
              authorization: `Bearer ${provider.saved!.access_token}`,
              'content-type': 'application/json',
              accept: 'application/json, text/event-stream',
            },
          },
          (res) => resolve({ res, req }),
        );
        req.on('error', reject);
        req.end(body);
      },
    );
    expect(res.statusCode).toBe(200);
    res.pause();
    // The upstream has produced the whole answer; the gateway stops reading when the client does.
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    const held = (await rss(child.pid!)) - before;
    let received = 0;
    res.on('data', (chunk: Buffer) => void (received += chunk.length));
    res.resume();
    await once(res, 'end');
    req.destroy();
    expect(received).toBeGreaterThan(bytes);
    // Buffering would hold at least the 40 MB answer; streaming holds a few chunks and socket buffers.
    expect(held).toBeLessThan(12 * 1024 * 1024);
  });
});
