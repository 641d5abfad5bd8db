import { open } from 'node:fs/promises';
import { z } from 'zod';

/**
 * The gateway's configuration file (`mcp-elevate gateway --config FILE`): one zod schema, the
 * single source of truth, from which `gateway.schema.json` is generated
 * (`node scripts/generate-gateway-schema.ts`). Every option documents its default.
 */

/**
 * Header names the gateway sets or checks itself on the upstream request, refused as extra or
 * principal headers: the HTTP framing and hop-by-hop ones, and MCP's session and routing headers.
 */
const RESERVED_HEADERS = new Set([
  'connection',
  'content-length',
  'content-type',
  'expect',
  'host',
  'keep-alive',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'accept-encoding',
  'mcp-session-id',
  'mcp-protocol-version',
  'mcp-method',
  'mcp-name',
  'last-event-id',
]);
const notReserved = (name: string) => !RESERVED_HEADERS.has(name.toLowerCase());
const RESERVED_MESSAGE = 'is a header the gateway sets or checks itself';

/** Longest delay a Node.js timer takes (2^31 − 1 ms, about 24.8 days); longer ones fire at once. */
const MAX_TIMER_MS = 2_147_483_647;

const httpUrl = z.url({ protocol: /^https?$/, normalize: false, error: 'must be an http(s) URL' });

/** A header value given literally, or read from an environment variable at start. */
const HeaderValue = z.union([
  z.string().regex(/^[\t\x20-\x7e]*$/, 'header values must be printable ASCII'),
  z
    .object({
      env: z.string().min(1).describe('Name of the environment variable holding the value'),
    })
    .strict(),
]);

const RateLimit = z
  .object({
    points: z
      .int()
      .min(1)
      .default(60)
      .describe('Calls allowed per principal and tool in one window. Default 60.'),
    durationSec: z.int().min(1).default(60).describe('Window length in seconds. Default 60.'),
  })
  .strict();

const Breaker = z
  .object({
    consecutiveFailures: z
      .int()
      .min(1)
      .default(5)
      .describe('Consecutive upstream failures that open the breaker. Default 5.'),
    halfOpenAfterMs: z
      .int()
      .min(0)
      .max(MAX_TIMER_MS)
      .default(30_000)
      .describe('Milliseconds before one trial request passes an open breaker. Default 30000.'),
  })
  .strict();

const PrincipalHeader = z
  .object({
    secretEnv: z
      .string()
      .min(1)
      .describe(
        'Environment variable holding the HS256 key (at least 32 bytes) shared with the upstream',
      ),
    header: z
      .string()
      .regex(/^[A-Za-z0-9-]+$/)
      .refine(
        (name) => notReserved(name) && !['authorization', 'dpop'].includes(name.toLowerCase()),
        RESERVED_MESSAGE,
      )
      .default('Mcp-Elevate-Principal')
      .describe('Header name. Default Mcp-Elevate-Principal.'),
    ttlSeconds: z
      .int()
      .min(1)
      .max(3600)
      .default(60)
      .describe('Lifetime of each signed JWT in seconds. Default 60.'),
  })
  .strict();

/**
 * The OAuth client a route sends its audit events as. Audit ingest takes a client's events only
 * for the resource an admin registered it as (`clients add --mcp-resource`), so a gateway with
 * several routes gives each route the client of its own resource.
 */
const AuditClient = z
  .object({
    clientId: z.string().min(1).describe('Client registered with --mcp-resource <this resource>'),
    clientSecretEnv: z.string().min(1).describe('Environment variable holding the client secret'),
  })
  .strict();

/** One protected upstream MCP server. */
export const GatewayRouteSchema = z
  .object({
    path: z
      .string()
      .regex(/^\/[\x21-\x7e]*$/, 'must be an absolute path such as /mcp')
      .refine((p) => !/[?#]/.test(p), 'must not hold a query or fragment')
      .describe('Path the gateway serves this upstream at, e.g. /github/mcp'),
    upstream: httpUrl
      .refine((url) => {
        const { username, password } = new URL(url);
        return username === '' && password === '';
      }, 'must not hold credentials (they would be printed and signed into tokens): send them in headers')
      .describe('The upstream MCP endpoint (Streamable HTTP), e.g. http://10.0.0.5:8080/mcp'),
    resource: httpUrl
      .optional()
      .describe(
        'Public resource URL: the audience of its tokens, a resource of scopes.json. ' +
          'Default http://localhost:<port><path>.',
      ),
    headers: z
      .record(z.string().regex(/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/), HeaderValue)
      .superRefine((headers, ctx) => {
        for (const name of Object.keys(headers))
          if (!notReserved(name))
            ctx.addIssue({ code: 'custom', path: [name], message: RESERVED_MESSAGE });
      })
      .default({})
      .describe(
        'Extra headers sent upstream, e.g. an API key of the upstream ({ "env": "NAME" } ' +
          'reads a variable)',
      ),
    timeoutMs: z
      .int()
      .min(1)
      .max(MAX_TIMER_MS)
      .default(30_000)
      .describe(
        'Longest tool call (-32001 after it), and longest wait for the headers of any ' +
          'other request. Default 30000.',
      ),
    bodyLimitBytes: z
      .int()
      .min(1)
      .default(1024 * 1024)
      .describe('Largest request body (413 above). Default 1048576.'),
    rateLimit: z
      .union([RateLimit, z.literal(false)])
      .default({ points: 60, durationSec: 60 })
      .describe(
        'Calls per principal and tool across sessions in a fixed window, or false. ' +
          'Default 60 calls per 60 s.',
      ),
    breaker: Breaker.default({ consecutiveFailures: 5, halfOpenAfterMs: 30_000 }).describe(
      'Circuit breaker of the upstream.',
    ),
    audit: AuditClient.optional().describe(
      "Client this route's audit events are sent as. Default: GATEWAY_CLIENT_ID and " +
        'GATEWAY_CLIENT_SECRET (one client for one resource).',
    ),
    principal: PrincipalHeader.optional().describe(
      'Forward who is calling as a short-lived JWT signed by the gateway. Default: off.',
    ),
  })
  .strict();

/** The whole configuration file. */
export const GatewayConfigSchema = z
  .object({
    $schema: z.string().optional(),
    port: z.int().min(0).max(65535).default(4200).describe('Port to listen on. Default 4200.'),
    host: z.string().min(1).default('0.0.0.0').describe('Interface to listen on. Default 0.0.0.0.'),
    issuer: httpUrl
      .optional()
      .describe(
        'The authorization server. Default: the ISSUER variable, else http://localhost:3000.',
      ),
    routes: z.array(GatewayRouteSchema).min(1).describe('Protected upstreams, one per path'),
  })
  .strict()
  .superRefine((config, ctx) => {
    const seen = new Set<string>();
    config.routes.forEach((route, i) => {
      if (seen.has(route.path))
        ctx.addIssue({
          code: 'custom',
          path: ['routes', i, 'path'],
          message: `duplicate path ${route.path}`,
        });
      seen.add(route.path);
    });
  });

export type GatewayRouteConfig = z.output<typeof GatewayRouteSchema>;
export type GatewayConfig = z.output<typeof GatewayConfigSchema>;

/** A configuration problem, printed as one line naming the file and the field. */
export class GatewayConfigError extends Error {
  readonly code = 'ERR_GATEWAY_CONFIG';
  /**
   * For an invalid field: its path in the configuration (e.g. `['routes', 0, 'upstream']`) and
   * what is wrong with it, so a caller may name it its own way (the CLI names the flag).
   */
  readonly issue?: { path: readonly PropertyKey[]; reason: string };

  constructor(message: string, issue?: { path: readonly PropertyKey[]; reason: string }) {
    super(message);
    if (issue !== undefined) this.issue = issue;
  }
}

/**
 * Validates a configuration object.
 * @throws GatewayConfigError naming the first invalid field.
 */
export function parseGatewayConfig(value: unknown, source = 'configuration'): GatewayConfig {
  const parsed = GatewayConfigSchema.safeParse(value);
  if (!parsed.success) {
    const { path, message } = parsed.error.issues[0]!;
    const where = path.length > 0 ? path.join('.') : '(top level)';
    throw new GatewayConfigError(`${source}: ${where}: ${message}`, { path, reason: message });
  }
  return parsed.data;
}

/**
 * Reads and validates a configuration file (JSON).
 * @throws GatewayConfigError when unreadable, not JSON or invalid.
 */
export async function loadGatewayConfig(file: string): Promise<GatewayConfig> {
  let text: string;
  try {
    text = await readLimited(file, MAX_CONFIG_BYTES);
  } catch (error) {
    if (error instanceof GatewayConfigError) throw error;
    throw new GatewayConfigError(
      `${file}: cannot read (${(error as NodeJS.ErrnoException).code ?? 'error'})`,
    );
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new GatewayConfigError(`${file}: not valid JSON`);
  }
  return parseGatewayConfig(value, file);
}

/** Largest configuration file read: 1 MiB (a device or a runaway file must not hang the start). */
const MAX_CONFIG_BYTES = 1024 * 1024;

async function readLimited(file: string, max: number): Promise<string> {
  const handle = await open(file, 'r');
  try {
    const buffer = Buffer.alloc(max + 1);
    let size = 0;
    while (size <= max) {
      const { bytesRead } = await handle.read(buffer, size, max + 1 - size);
      if (bytesRead === 0) break;
      size += bytesRead;
    }
    if (size > max) throw new GatewayConfigError(`${file}: larger than ${max / 1024} KiB`);
    return buffer.subarray(0, size).toString('utf8');
  } finally {
    await handle.close();
  }
}

/**
 * Resolves `{ env: NAME }` header values from `env`.
 * @throws GatewayConfigError when a named variable is unset.
 */
export function resolveHeaders(
  headers: GatewayRouteConfig['headers'],
  env: NodeJS.ProcessEnv,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (typeof value === 'string') {
      out[name.toLowerCase()] = value;
      continue;
    }
    const resolved = env[value.env];
    if (resolved === undefined || resolved === '')
      throw new GatewayConfigError(`header ${name}: environment variable ${value.env} is not set`);
    out[name.toLowerCase()] = resolved;
  }
  return out;
}

/** JSON Schema of the configuration file, for editors (`"$schema": "./gateway.schema.json"`). */
export function gatewayJsonSchema(): Record<string, unknown> {
  return z.toJSONSchema(GatewayConfigSchema, { io: 'input' }) as Record<string, unknown>;
}
