import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.ts';
import { freePort } from '../helpers/server.ts';

/** `audit verify` tells "could not verify" (exit 3) apart from "tampered" (exit 1) for cron. */
describe('audit verify when it cannot verify', { timeout: 60_000 }, () => {
  let dir: string;
  let env: Record<string, string>;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mcpe-verify-'));
    // Nothing listens there.
    env = { DATABASE_URL: `postgres://postgres@127.0.0.1:${await freePort()}/none`, DATA_DIR: dir };
  });
  afterAll(async () => rm(dir, { recursive: true, force: true }));

  it('exits 3 when the database is unreachable, with a JSON error under --json', async () => {
    const res = await runCli(['audit', 'verify', '--json'], env);
    expect(res.code).toBe(3);
    expect(JSON.parse(res.stdout)).toEqual({
      ok: false,
      error: expect.stringMatching(/^database: .*ECONNREFUSED/),
    });
  });

  it('exits 3 naming a checkpoint source or key set that cannot be read', async () => {
    const jwks = join(dir, 'jwks.json');
    await writeFile(jwks, '{"keys": []}');
    const url = `http://127.0.0.1:${await freePort()}/audit/v1/checkpoints`;
    const source = await runCli(['audit', 'verify', '--checkpoints', url, '--jwks', jwks], env);
    expect(source.code).toBe(3);
    expect(source.stderr).toBe(`mcp-elevate: could not verify: checkpoints ${url}: fetch failed\n`);
    await writeFile(jwks, 'not json');
    const keys = await runCli(['audit', 'verify', '--jwks', jwks], env);
    expect(keys.code).toBe(3);
    expect(keys.stderr).toBe(
      `mcp-elevate: could not verify: jwks ${jwks}: not a JSON Web Key Set\n`,
    );
  });
});
