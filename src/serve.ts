import { loadConfig } from './config/env.ts';
import { createServer, type Server } from './main.ts';

/**
 * Reads the environment, starts the server on the configured port and closes it gracefully on
 * SIGTERM/SIGINT.
 */
export async function startServer(
  env: Record<string, string | undefined> = process.env,
): Promise<Server> {
  const config = loadConfig(env);
  const server = await createServer(config);
  await server.listen();
  let stopping = false;
  const stop = async (signal: string) => {
    // A signal can arrive twice (a process group and npm both pass SIGTERM on): the first one
    // shuts down; the others must not end the process before the lock and the pool are released.
    if (stopping) return;
    stopping = true;
    server.log.info({ signal }, 'shutting down');
    await server.close();
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
  return server;
}
