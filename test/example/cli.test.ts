import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.ts';
import { freePort, startTestServer } from '../helpers/server.ts';

describe('mcp-elevate example-mcp-server', () => {
  it('documents its port option and environment', async () => {
    const result = await runCli(['example-mcp-server', '--help'], {});
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('example-mcp-server [--port 4000]');
    expect(result.stdout).toContain('EXAMPLE_CLIENT_ID');
  });

  it('refuses a bad port with a one-line reason', async () => {
    const result = await runCli(['example-mcp-server', '--port', 'eighty'], {});
    expect(result.code).toBe(2);
    expect(result.stderr.trim()).toBe('mcp-elevate: --port must be a port number (1-65535)');
  });

  it('exits with one line when the authorization server is unreachable', async () => {
    const result = await runCli(['example-mcp-server', '--port', String(await freePort())], {
      ISSUER: `http://127.0.0.1:${await freePort()}`,
    });
    expect(result.code).toBe(1);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toContain('policy/v1/bundle');
  });

  it('refuses to start, in one line, for a resource the issuer does not list', async () => {
    const t = await startTestServer('pglite');
    try {
      const port = await freePort();
      const resource = `http://127.0.0.1:${port}/unlisted/mcp`;
      const result = await runCli(['example-mcp-server', '--port', String(port)], {
        ISSUER: t.url,
        EXAMPLE_RESOURCE: resource,
      });
      expect(result.code).toBe(1);
      expect(result.stderr.trim().split('\n')).toHaveLength(1);
      expect(result.stderr).toContain(`resource ${resource} is not in the issuer's catalogue`);
    } finally {
      await t.close();
    }
  }, 60_000);
});
