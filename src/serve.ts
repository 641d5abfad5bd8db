import { loadConfig } from './config/env.ts';
import { createServer, type Server } from './main.ts';

/**
 * Reads the environment, starts the server on the configured port and closes it gracefully on
 * SIGTERM/SIGINT.
 */
export async function startServer(env: Record<string, string | undefined> = process.env): Promise<Server> {
  const config = loadConfig(env);
  const server = await createServer(config);
  await server.listen();
  const stop = async (signal: string) => {
    server.log.info({ signal }, 'shutting down');
    await server.close();
    process.exit(0);
  };
  process.once('SIGTERM', () => void stop('SIGTERM'));
  process.once('SIGINT', () => void stop('SIGINT'));
  return server;
}
