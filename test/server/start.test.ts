import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from '../helpers/server.ts';

const BIN = fileURLToPath(new URL('../../bin/mcp-elevate.js', import.meta.url));

async function serve(
  env: Record<string, string>,
): Promise<{ child: ChildProcess; out: () => string }> {
  const child = spawn(process.execPath, [BIN, 'serve'], {
    env: { PATH: process.env.PATH, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d) => {
    out += d;
  });
  child.stderr!.on('data', (d) => {
    out += d;
  });
  const deadline = Date.now() + 90_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`server exited: ${out}`);
    try {
      const res = await fetch(`http://127.0.0.1:${env.PORT}/healthz`);
      if (res.ok) return { child, out: () => out };
    } catch {
      /* not listening yet */
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  child.kill();
  throw new Error(`server did not start: ${out}`);
}

describe('mcp-elevate serve with no services (embedded database)', () => {
  let dataDir: string;
  afterAll(async () => dataDir && rm(dataDir, { recursive: true, force: true }));

  it(
    'serves discovery, creates the first admin once, and stops cleanly on SIGTERM',
    { timeout: 240_000 },
    async () => {
      dataDir = await mkdtemp(join(tmpdir(), 'mcpe-start-'));
      const port = String(await freePort());
      const first = await serve({ PORT: port, DATA_DIR: dataDir });
      for (const path of [
        '/.well-known/oauth-authorization-server',
        '/.well-known/openid-configuration',
      ]) {
        const meta = (await (await fetch(`http://127.0.0.1:${port}${path}`)).json()) as Record<
          string,
          unknown
        >;
        expect(meta.issuer).toBe(`http://localhost:${port}`);
        expect(meta.code_challenge_methods_supported).toEqual(['S256']);
        expect(meta.response_types_supported).toEqual(['code']);
        expect(meta.authorization_response_iss_parameter_supported).toBe(true);
        expect(meta.client_id_metadata_document_supported).toBe(true);
      }
      const passwordFile = join(dataDir, 'initial-admin-password');
      const password = (await readFile(passwordFile, 'utf8')).trim();
      expect((await stat(passwordFile)).mode & 0o777).toBe(0o600);
      expect(first.out()).toContain(password); // printed once on the console …
      const logLines = first
        .out()
        .split('\n')
        .filter((l) => l.startsWith('{'));
      expect(logLines.length).toBeGreaterThan(0);
      expect(logLines.join('\n')).not.toContain(password); // … and never in the JSON logs
      first.child.kill('SIGTERM');
      const [code] = await once(first.child, 'exit');
      expect(code).toBe(0);

      const second = await serve({ PORT: port, DATA_DIR: dataDir });
      expect(second.out()).not.toContain('One-time password');
      second.child.kill('SIGTERM');
      await once(second.child, 'exit');
    },
  );
});
