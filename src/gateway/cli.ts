import { parseArgs } from 'node:util';
import {
  GatewayConfigError,
  loadGatewayConfig,
  parseGatewayConfig,
  resolveHeaders,
  type GatewayConfig,
} from './config.ts';
import { startGateway, type GatewayOptions } from './server.ts';

/** Bad command-line input: printed as one line, exit code 2. */
class UsageError extends Error {}

function flags(args: string[]) {
  try {
    return parseArgs({
      args,
      strict: true,
      allowPositionals: false,
      options: {
        upstream: { type: 'string' },
        port: { type: 'string' },
        host: { type: 'string' },
        resource: { type: 'string' },
        config: { type: 'string' },
        help: { type: 'boolean' },
      },
    }).values;
  } catch (error) {
    throw new UsageError((error as Error).message.split('\n')[0]);
  }
}

/** The flag that sets each field of the configuration built from flags. */
const FLAG_OF: Readonly<Record<string, string>> = {
  port: '--port',
  host: '--host',
  path: '--resource',
  upstream: '--upstream',
  resource: '--resource',
};

/** The configuration the flags describe (`--config`, or one upstream). */
async function configFrom(args: string[], env: NodeJS.ProcessEnv): Promise<GatewayConfig> {
  const v = flags(args);
  if (v.config !== undefined) {
    const others = (['upstream', 'port', 'host', 'resource'] as const).filter(
      (name) => v[name] !== undefined,
    );
    if (others.length > 0) throw new UsageError(`--config cannot be combined with --${others[0]}`);
    return loadGatewayConfig(v.config);
  }
  if (v.upstream === undefined) throw new UsageError('--upstream (or --config) is required');
  const port = v.port === undefined ? 4200 : Number(v.port);
  if (!/^\d+$/.test(v.port ?? '4200') || port < 1 || port > 65535)
    throw new UsageError('--port must be a port number (1-65535)');
  if (v.resource !== undefined && !URL.canParse(v.resource))
    throw new UsageError('--resource must be an absolute URL');
  const path = v.resource === undefined ? '/mcp' : new URL(v.resource).pathname;
  const secret = env.GATEWAY_PRINCIPAL_SECRET;
  try {
    return parseGatewayConfig(
      {
        port,
        ...(v.host !== undefined && { host: v.host }),
        routes: [
          {
            path,
            upstream: v.upstream,
            ...(v.resource !== undefined && { resource: v.resource }),
            ...(secret !== undefined &&
              secret !== '' && { principal: { secretEnv: 'GATEWAY_PRINCIPAL_SECRET' } }),
          },
        ],
      },
      'flags',
    );
  } catch (error) {
    // Named by the flag that set the field, not by the configuration file's path to it.
    if (!(error instanceof GatewayConfigError) || error.issue === undefined) throw error;
    const { path, reason } = error.issue;
    const field = path[0] === 'routes' ? path[2] : path[0];
    const flag = FLAG_OF[String(field)];
    throw new UsageError(flag === undefined ? error.message : `${flag}: ${reason}`);
  }
}

/** The options of `startGateway` for a validated configuration, secrets read from `env`. */
export function gatewayOptions(config: GatewayConfig, env: NodeJS.ProcessEnv): GatewayOptions {
  return {
    issuer: config.issuer ?? env.ISSUER ?? 'http://localhost:3000',
    port: config.port,
    host: config.host,
    clientId: env.GATEWAY_CLIENT_ID || undefined,
    clientSecret: env.GATEWAY_CLIENT_SECRET || undefined,
    routes: config.routes.map((route) => {
      let principal: NonNullable<GatewayOptions['routes'][number]['principal']> | undefined;
      if (route.principal !== undefined) {
        const secret = env[route.principal.secretEnv] ?? '';
        if (Buffer.byteLength(secret) < 32)
          throw new GatewayConfigError(
            `${route.path}: ${route.principal.secretEnv} must hold a key of at least 32 bytes`,
          );
        principal = {
          secret,
          header: route.principal.header,
          ttlSeconds: route.principal.ttlSeconds,
        };
      }
      let audit: { clientId: string; clientSecret: string } | undefined;
      if (route.audit !== undefined) {
        const secret = env[route.audit.clientSecretEnv] ?? '';
        if (secret === '')
          throw new GatewayConfigError(
            `${route.path}: ${route.audit.clientSecretEnv} must hold the secret of ${route.audit.clientId}`,
          );
        audit = { clientId: route.audit.clientId, clientSecret: secret };
      }
      return {
        ...route,
        headers: resolveHeaders(route.headers, env),
        rateLimit: route.rateLimit,
        principal,
        audit,
      };
    }),
  };
}

/**
 * Runs `mcp-elevate gateway` (its `--help` lives with the other commands' in src/cli.ts).
 * Resolves -1 while the gateway serves (it stops on SIGINT/SIGTERM),
 * or the exit code after printing one line: 2 for bad flags or configuration, 1 when the
 * gateway cannot start (e.g. the authorization server's policy is unreachable).
 */
export async function runGateway(
  args: string[],
  env: NodeJS.ProcessEnv = process.env,
): Promise<number> {
  let options: GatewayOptions;
  try {
    options = gatewayOptions(await configFrom(args, env), env);
  } catch (error) {
    if (!(error instanceof UsageError || error instanceof GatewayConfigError)) throw error;
    console.error(`mcp-elevate: ${error.message}`);
    return 2;
  }
  try {
    const gateway = await startGateway(options);
    const everywhere = options.host === undefined || options.host === '0.0.0.0';
    for (const route of gateway.routes)
      console.log(
        `gateway: ${route.resource} -> ${route.upstream} (listening on ${everywhere ? `port ${gateway.port}, all interfaces: ` : ''}${gateway.url}${route.path})`,
      );
    for (const signal of ['SIGINT', 'SIGTERM'] as const)
      process.once(signal, () => void gateway.close().finally(() => process.exit(0)));
    return -1;
  } catch (error) {
    // A route the issuer cannot issue tokens for is bad configuration, found once it answered.
    if (error instanceof GatewayConfigError) {
      console.error(`mcp-elevate: ${error.message}`);
      return 2;
    }
    // Policy client and listen errors carry client-safe, one-line messages (no secrets).
    console.error(
      `mcp-elevate: gateway failed to start: ${String((error as Error).message ?? error).split('\n')[0]}`,
    );
    return 1;
  }
}
