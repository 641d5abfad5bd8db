/**
 * `npm run demo` (ARCHITECTURE.md §2): the authorization server on :3000 and the example MCP server on
 * :4000/mcp in one process, with demo users, an agent client and a printed walkthrough.
 *
 * Environment: everything `mcp-elevate serve` reads (README), with `DATA_DIR` defaulting to
 * `./data/demo` so that the demo never mixes with `npm start`'s `./data`; `EXAMPLE_PORT` (default
 * 4000) for the example MCP server. Logs go to stderr, the walkthrough to stdout.
 * @module
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pino } from 'pino';
import { z } from 'zod';
import { ConfigError, loadConfig, type Config } from '../src/config/env.ts';
import { createServer, LOG_REDACT, type Server } from '../src/main.ts';
import { DatabaseInUseError } from '../src/db/connect.ts';
import { startExampleMcpServer, type ExampleMcpServer } from '../src/example/index.ts';
import { DemoError, EXAMPLE_CLIENT_ID, loadCredentials, seedDemo } from './demo/seed.ts';
import { walkthrough } from './demo/walkthrough.ts';

const DEFAULT_DATA_DIR = './data/demo';
const examplePortSchema = z.coerce.number().int().min(1).max(65_535).default(4000);

/**
 * The catalogue the demo runs with. Unless SCOPES_FILE names one, it is scopes.json with the
 * example server's resource (`http://localhost:4000/mcp`, else the first one) as its only
 * resource, renamed to the example's actual URL, so that tokens, the resource metadata and the
 * walkthrough agree whatever EXAMPLE_PORT is.
 */
async function scopesFile(
  env: NodeJS.ProcessEnv,
  dataDir: string,
  resource: string,
): Promise<string> {
  if (env.SCOPES_FILE) return env.SCOPES_FILE;
  const catalogue = JSON.parse(
    await readFile(new URL('../scopes.json', import.meta.url), 'utf8'),
  ) as { $schema?: string; resources: Record<string, unknown> };
  const example =
    catalogue.resources['http://localhost:4000/mcp'] ?? Object.values(catalogue.resources)[0];
  if (!example)
    throw new DemoError(
      'scopes.json: the demo needs a resource for the example server (or set SCOPES_FILE)',
    );
  delete catalogue.$schema;
  catalogue.resources = { [resource]: example };
  const file = join(dataDir, 'scopes.json');
  await writeFile(file, `${JSON.stringify(catalogue, null, 2)}\n`);
  return file;
}

/** Reads the environment: the server's configuration and the example's port and resource. */
async function configure(
  env: NodeJS.ProcessEnv,
): Promise<{ config: Config; examplePort: number; resource: string }> {
  const port = examplePortSchema.safeParse(env.EXAMPLE_PORT || undefined);
  if (!port.success) throw new DemoError(`EXAMPLE_PORT: ${port.error.issues[0]!.message}`);
  const dataDir = env.DATA_DIR || DEFAULT_DATA_DIR;
  const resource = `http://localhost:${port.data}/mcp`;
  await mkdir(dataDir, { recursive: true });
  const config = loadConfig({
    ...env,
    DATA_DIR: dataDir,
    SCOPES_FILE: await scopesFile(env, dataDir, resource),
  });
  return { config, examplePort: port.data, resource };
}

async function main(): Promise<void> {
  const { config, examplePort, resource } = await configure(process.env);
  // Logs on stderr keep stdout for the walkthrough.
  const log = pino({ level: config.logLevel, redact: LOG_REDACT }, pino.destination(2));
  let server: Server | undefined;
  let example: ExampleMcpServer | undefined;
  let stopping: Promise<void> | undefined;
  // Stops the example first (it flushes its audit events to the server), then the server.
  const stop = () =>
    (stopping ??= (async () => {
      await example
        ?.close()
        .catch((err: unknown) => log.warn({ err }, 'example MCP server did not close cleanly'));
      await server?.close();
    })());
  // `on`, not `once`: a repeated signal (npm and the process group both pass it on) must not end
  // the demo before both servers have closed; `stop` runs once.
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      log.info({ signal }, 'demo shutting down');
      stop().then(
        () => process.exit(0),
        (err: unknown) => {
          log.error({ err }, 'shutdown failed');
          process.exit(1);
        },
      );
    });
  }

  try {
    // The demo's security-team member is the administrator: no generated admin account.
    server = await createServer(config, {
      log,
      bootstrapAdmin: false,
      embedded: { role: 'serve', command: 'npm run demo' },
    });
    const { credentials, generated, save } = await loadCredentials(config.dataDir);
    await seedDemo(server, credentials, generated);
    await save();
    await server.listen();
    example = await startExampleMcpServer({
      issuer: config.issuer,
      port: examplePort,
      resource,
      clientId: EXAMPLE_CLIENT_ID,
      clientSecret: credentials.exampleSecret,
    });
    process.stdout.write(
      walkthrough({
        issuer: config.issuer,
        resource,
        credentials,
        pollInterval: config.cibaPollInterval,
        mail: config.smtpUrl ? { smtp: true } : { dir: join(config.dataDir, 'mail') },
      }),
    );
  } catch (err) {
    await stop().catch(() => {});
    throw err;
  }
}

main().catch((err: unknown) => {
  const known =
    err instanceof DemoError ||
    err instanceof ConfigError ||
    err instanceof DatabaseInUseError ||
    (err as { code?: string }).code === 'EADDRINUSE';
  const message = err instanceof Error ? err.message : String(err);
  process.stderr.write(`demo: ${known ? message : `failed: ${message.split('\n')[0]}`}\n`);
  process.exit(1);
});
