/**
 * Token-endpoint target: mcp-elevate itself on PostgreSQL (`DATABASE_URL`, an empty scratch
 * database), started through `createServer` exactly as `mcp-elevate serve` does, with one
 * client_credentials client holding the `developer` role. Every SQL statement sent to PostgreSQL
 * is counted, so the driver can tell how many round trips a token request costs.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { loadConfig } from '../../src/config/env.ts';
import { createServer } from '../../src/main.ts';
import { registerClient } from '../../src/oidc/clients.ts';
import { CLIENT_ID, freePort, serveTarget } from './protocol.ts';

/**
 * Counts statements by wrapping `pg.Client#query`, which kysely's PostgresDialect calls for every
 * statement (transactions' BEGIN/COMMIT included). Server code stays untouched; the cost is one
 * Map update per statement.
 */
function countQueries() {
  const counts = new Map<string, number>();
  const original = pg.Client.prototype.query;
  pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
    const first = args[0] as string | { text?: string };
    const text = typeof first === 'string' ? first : (first?.text ?? '<unknown>');
    counts.set(text, (counts.get(text) ?? 0) + 1);
    return (original as (...a: unknown[]) => unknown).apply(this, args);
  } as typeof original;
  return () => [...counts];
}

await serveTarget(async () => {
  const statements = countQueries();
  const databaseUrl = process.env.DATABASE_URL;
  if (!databaseUrl) throw new TypeError('DATABASE_URL must name the scratch database');
  const port = await freePort();
  const dataDir = await mkdtemp(join(tmpdir(), 'mcpe-bench-'));
  const config = loadConfig({
    PORT: String(port),
    ISSUER: `http://127.0.0.1:${port}`,
    DATABASE_URL: databaseUrl,
    DATA_DIR: dataDir,
    SCOPES_FILE: new URL('../../scopes.json', import.meta.url).pathname,
    LOG_LEVEL: 'warn',
  });
  const server = await createServer(config, { bootstrapAdmin: false });
  const clientSecret = randomBytes(24).toString('base64url');
  await registerClient(server.provider, server.db.db, {
    id: CLIENT_ID,
    secret: clientSecret,
    roles: ['developer'],
  });
  const url = await server.listen(port);
  return {
    url,
    clientSecret,
    statements,
    async close() {
      await server.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
});
