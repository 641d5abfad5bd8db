import { mkdtemp, rm } from 'node:fs/promises';
import { createServer as createNetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino, type Logger } from 'pino';
import { loadConfig } from '../../src/config/env.ts';
import { createServer, type Server } from '../../src/main.ts';
import { createTestDatabase, type TestDatabase } from './databases.ts';

export interface TestServer {
  server: Server;
  /** Base URL, equal to the issuer. */
  url: string;
  db: TestDatabase;
  dataDir: string;
  /** Stops the server; the database and data dir stay (for restart tests). */
  stop(): Promise<void>;
  /** Starts a new server process-equivalent on the same port, database and data dir. */
  restart(): Promise<TestServer>;
  /** Stops the server and drops its database and data dir. */
  close(): Promise<void>;
}

export async function freePort(): Promise<number> {
  const srv = createNetServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const { port } = srv.address() as { port: number };
  await new Promise((resolve) => srv.close(resolve));
  return port;
}

/** Starts a real server on 127.0.0.1 with its own database of the given kind. */
export async function startTestServer(
  kind: 'pglite' | 'postgres',
  env: Record<string, string> = {},
  reuse?: { db: TestDatabase; dataDir: string; port: number },
  opts: { log?: Logger; currentDate?: () => Date } = {},
): Promise<TestServer> {
  const db = reuse?.db ?? (await createTestDatabase(kind));
  const dataDir = reuse?.dataDir ?? (await mkdtemp(join(tmpdir(), 'mcpe-')));
  const port = reuse?.port ?? (await freePort());
  const url = `http://127.0.0.1:${port}`;
  const config = loadConfig({
    PORT: String(port),
    ISSUER: url,
    DATA_DIR: dataDir,
    LOG_LEVEL: 'silent',
    ...(db.url ? { DATABASE_URL: db.url } : {}),
    ...env,
  });
  const server = await createServer(config, {
    log: opts.log ?? pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }),
    bootstrapAdmin: false,
    currentDate: opts.currentDate,
  });
  await server.listen(port);
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await server.close();
  };
  return {
    server,
    url,
    db,
    dataDir,
    stop,
    async restart() {
      await stop();
      return startTestServer(kind, env, { db, dataDir, port }, opts);
    },
    async close() {
      await stop();
      await db.drop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
