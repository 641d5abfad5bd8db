/**
 * Benchmark target: mcp-elevate on PostgreSQL (`DATABASE_URL`, an empty scratch database),
 * started through `createServer` as `mcp-elevate serve` does, with the users and clients of
 * `BENCH_FIXTURES` (JSON, see {@link Fixtures}) and the extra environment of `BENCH_SERVER_ENV`
 * (JSON, e.g. `{"CIBA_POLL_INTERVAL":"1","SMTP_URL":"smtp://127.0.0.1:2525"}`). Every SQL statement
 * is counted, so the driver can tell how many round trips an operation costs. Server code is
 * untouched: the count wraps `pg.Client#query`, which kysely's PostgresDialect calls for every
 * statement (BEGIN/COMMIT included).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { loadConfig } from '../../src/config/env.ts';
import { createServer } from '../../src/main.ts';
import { registerClient, type NewClientInput } from '../../src/oidc/clients.ts';
import { serveChild } from './ipc.ts';

/** Users and clients created before the server reports ready. */
export interface Fixtures {
  users?: Array<{ email: string; password: string; roles?: string[]; groups?: string[] }>;
  clients?: NewClientInput[];
}

function countStatements(): () => Array<[string, number, number]> {
  const counts = new Map<string, { n: number; rows: number }>();
  const shapes = new Map<string, string>();
  const original = pg.Client.prototype.query;
  pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
    const first = args[0] as string | { text?: string } | undefined;
    // One line per statement shape: lists of parameters of any length count as one statement,
    // and so do multi-row VALUES.
    const raw = typeof first === 'string' ? first : (first?.text ?? '<unknown>');
    // Normalised once per distinct text: the counting must cost the measured server next to nothing.
    let text = shapes.get(raw);
    if (text === undefined) {
      text = raw
        .replace(/\s+/g, ' ')
        .replace(/\(\$\d+(, \$\d+)*\)(, \(\$\d+(, \$\d+)*\))*/g, '($…)');
      if (shapes.size < 10_000) shapes.set(raw, text);
    }
    const entry = counts.get(text) ?? { n: 0, rows: 0 };
    entry.n++;
    counts.set(text, entry);
    const result = (original as (...a: unknown[]) => unknown).apply(this, args);
    // Promise form (kysely's): rows returned (SELECT, RETURNING) or changed. The caller keeps its own handlers.
    if (result instanceof Promise) {
      result.then(
        (r: { rowCount?: number | null; rows?: unknown[] }) => {
          entry.rows += r?.rows?.length || r?.rowCount || 0;
        },
        () => undefined,
      );
    }
    return result;
  } as typeof original;
  return () => [...counts].map(([sql, { n, rows }]) => [sql, n, rows]);
}

async function freePort(): Promise<number> {
  const { createServer: createNetServer } = await import('node:net');
  const srv = createNetServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const { port } = srv.address() as { port: number };
  await new Promise((resolve) => srv.close(resolve));
  return port;
}

await serveChild(async () => {
  const statements = countStatements();
  const databaseUrl = process.env.DATABASE_URL;
  if (!databaseUrl) throw new TypeError('DATABASE_URL must name the scratch database');
  const fixtures = JSON.parse(process.env.BENCH_FIXTURES ?? '{}') as Fixtures;
  const extraEnv = JSON.parse(process.env.BENCH_SERVER_ENV ?? '{}') as Record<string, string>;
  const port = await freePort();
  const dataDir = await mkdtemp(join(tmpdir(), 'mcpe-bench-extra-'));
  const config = loadConfig({
    PORT: String(port),
    ISSUER: `http://127.0.0.1:${port}`,
    DATABASE_URL: databaseUrl,
    DATA_DIR: dataDir,
    SCOPES_FILE: new URL('../../scopes.json', import.meta.url).pathname,
    LOG_LEVEL: 'warn',
    ...extraEnv,
  });
  const server = await createServer(config, { bootstrapAdmin: false });
  const info: Record<string, string> = {};
  for (const user of fixtures.users ?? [])
    info[`user:${user.email}`] = (await server.users.create(user)).id;
  for (const client of fixtures.clients ?? [])
    await registerClient(server.provider, server.db.db, client);
  const url = await server.listen(port);
  return {
    info: { ...info, url },
    statements,
    async close() {
      await server.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
});
