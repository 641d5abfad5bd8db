import { isIP } from 'node:net';
import { join } from 'node:path';
import ipaddr from 'ipaddr.js';
import { z } from 'zod';
import { AppError } from '../errors.ts';
import { DEFAULTS } from './defaults.ts';
import { parseOutboundAllow, type OutboundAllowList } from './outbound-allow.ts';

const port = z.coerce.number().int().min(0).max(65_535);
const url = z.url({ protocol: /^https?$/ });
const boolish = z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1');

/**
 * Environment variables read at start (ARCHITECTURE.md §3). Each carries its default from
 * {@link DEFAULTS} (where each is explained); an invalid value stops the process with one line
 * naming the variable.
 */
export const envSchema = z.object({
  /** Port the server listens on. Default 3000. */
  PORT: port.default(DEFAULTS.port),
  /** Public issuer URL. Default `http://localhost:$PORT`. */
  ISSUER: url.optional(),
  /** PostgreSQL connection string. Unset: embedded PGlite under `DATA_DIR/pglite`. */
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL')
    .optional(),
  /** Folder for the embedded database, generated keys and spooled mail. Default `./data`. */
  DATA_DIR: z.string().min(1).default(DEFAULTS.dataDir),
  /** SMTP server URL (smtp:// or smtps://). Unset: mail is written to `DATA_DIR/mail/*.eml`. */
  SMTP_URL: z
    .string()
    .regex(/^smtps?:\/\//, 'must be an smtp:// or smtps:// URL')
    .optional(),
  /** Sender address of outgoing mail. Default `mcp-elevate <no-reply@localhost>`. */
  MAIL_FROM: z.string().min(3).default(DEFAULTS.mailFrom),
  /** Path of the scope catalogue. Default `./scopes.json`. */
  SCOPES_FILE: z.string().min(1).default(DEFAULTS.scopesFile),
  /**
   * Path of the upstream identity providers file (enterprise sign-in). Default `./federation.json`
   * when that file exists; when set, the file must exist.
   */
  FEDERATION_FILE: z.string().min(1).default(DEFAULTS.federationFile),
  /**
   * Password sign-in on the sign-in pages. `false` hides the password forms and refuses password
   * posts, except for break-glass accounts (attribute `breakGlass: true`). Default true.
   */
  LOCAL_LOGIN: boolish.default(DEFAULTS.localLogin),
  /** pino log level. Default `info`. */
  LOG_LEVEL: z
    .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
    .default(DEFAULTS.logLevel),
  /**
   * Behind a reverse proxy: the client address comes from `X-Forwarded-For` (throttling, audit).
   * URLs always derive from ISSUER, whatever the proxy headers say. Default false.
   */
  TRUST_PROXY: boolish.default(DEFAULTS.trustProxy),
  /** Lifetime of base (non-elevated) access tokens in seconds. Default 3600. */
  ACCESS_TOKEN_TTL: z.coerce
    .number()
    .int()
    .min(30)
    .max(86_400)
    .default(DEFAULTS.accessTokenTtlSeconds),
  /** Seconds a CIBA client must wait between polls (`interval`); faster polls get `slow_down`. Default 5. */
  CIBA_POLL_INTERVAL: z.coerce
    .number()
    .int()
    .min(1)
    .max(60)
    .default(DEFAULTS.cibaPollIntervalSeconds),
  /** Audit events one client may post per minute to this instance (429 beyond). Default 60 000. */
  AUDIT_INGEST_EVENTS_PER_MINUTE: z.coerce
    .number()
    .int()
    .min(1)
    .max(10_000_000)
    .default(DEFAULTS.auditIngestEventsPerMinute),
  /** Sign an audit checkpoint once this many events came after the last one. Default 1000. */
  AUDIT_CHECKPOINT_EVERY_EVENTS: z.coerce
    .number()
    .int()
    .min(1)
    .max(10_000_000)
    .default(DEFAULTS.auditCheckpointEveryEvents),
  /** … or once the last one is this many seconds old and events came after it. Default 60. */
  AUDIT_CHECKPOINT_EVERY_SECONDS: z.coerce
    .number()
    .int()
    .min(1)
    .max(86_400)
    .default(DEFAULTS.auditCheckpointEverySeconds),
  /** Folder of the append-only checkpoint files. Default `DATA_DIR/audit-checkpoints`. */
  AUDIT_CHECKPOINT_DIR: z.string().min(1).optional(),
  /**
   * URL each checkpoint is also POSTed to, through the outbound guard: https, or http to a host
   * admitted by OUTBOUND_ALLOW. Default: none.
   */
  AUDIT_CHECKPOINT_WEBHOOK: url.optional(),
  /** Approvals of `mcp:admin` need a passkey (as `approval.requirePasskey` would). Default false. */
  ADMIN_REQUIRE_PASSKEY: boolish.default(DEFAULTS.adminRequirePasskey),
  /**
   * Hosts (`cimd.internal`), addresses and CIDR ranges (`10.0.0.0/8`), comma-separated, that
   * outbound fetches (client metadata documents, `jwks_uri`) may reach although they are not
   * public. Default: none.
   */
  OUTBOUND_ALLOW: z
    .string()
    .transform((v, ctx) => {
      try {
        return parseOutboundAllow(v);
      } catch (err) {
        ctx.addIssue({ code: 'custom', message: (err as Error).message });
        return z.NEVER;
      }
    })
    .optional(),
});

export type Env = z.infer<typeof envSchema>;

/** Validated, frozen configuration of one server instance. */
export interface Config {
  readonly port: number;
  readonly issuer: string;
  readonly databaseUrl?: string;
  readonly dataDir: string;
  readonly smtpUrl?: string;
  readonly mailFrom: string;
  readonly scopesFile: string;
  /** The federation file and whether it must exist (set explicitly) or is read only if present. */
  readonly federation: { readonly file: string; readonly required: boolean };
  /** Password sign-in on the sign-in pages (`LOCAL_LOGIN`). */
  readonly localLogin: boolean;
  readonly logLevel: Env['LOG_LEVEL'];
  readonly trustProxy: boolean;
  readonly accessTokenTtl: number;
  readonly cibaPollInterval: number;
  readonly auditIngestEventsPerMinute: number;
  /** Non-public destinations outbound fetches may reach (`OUTBOUND_ALLOW`). */
  readonly outboundAllow: OutboundAllowList;
  /** Audit checkpoint cadence, folder and webhook (`AUDIT_CHECKPOINT_*`). */
  readonly auditCheckpoints: {
    readonly everyEvents: number;
    readonly everySeconds: number;
    readonly dir: string;
    readonly webhook?: string;
  };
  /** Approvals of `mcp:admin` need a passkey (`ADMIN_REQUIRE_PASSKEY`). */
  readonly adminRequirePasskey: boolean;
}

/** Thrown when the environment is invalid; its message is one line naming the variable. */
export class ConfigError extends AppError<'ERR_CONFIG'> {
  constructor(message: string) {
    super('ERR_CONFIG', message);
  }
}

/** Parses the environment into a frozen {@link Config}; throws {@link ConfigError} on the first bad variable. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  // Empty strings count as unset, as a shell `VAR=` usually means.
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== ''));
  const parsed = envSchema.safeParse(cleaned);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const name = String(issue.path[0] ?? 'environment');
    throw new ConfigError(`${name}: ${issue.message}`);
  }
  const e = parsed.data;
  const outboundAllow = e.OUTBOUND_ALLOW ?? parseOutboundAllow('');
  const webhook = e.AUDIT_CHECKPOINT_WEBHOOK;
  if (webhook && new URL(webhook).protocol !== 'https:') {
    const host = new URL(webhook).hostname.replace(/^\[(.*)\]$/, '$1');
    const admitted =
      outboundAllow.hosts.has(host.toLowerCase()) ||
      (isIP(host) > 0 &&
        outboundAllow.ranges.some(([range, bits]) => {
          const a = ipaddr.process(host);
          return a.kind() === range.kind() && a.match(range, bits);
        }));
    if (!admitted)
      throw new ConfigError(
        'AUDIT_CHECKPOINT_WEBHOOK: must be https (http only to a host admitted by OUTBOUND_ALLOW)',
      );
  }
  return Object.freeze({
    port: e.PORT,
    issuer: (e.ISSUER ?? `http://localhost:${e.PORT}`).replace(/\/$/, ''),
    databaseUrl: e.DATABASE_URL,
    dataDir: e.DATA_DIR,
    smtpUrl: e.SMTP_URL,
    mailFrom: e.MAIL_FROM,
    scopesFile: e.SCOPES_FILE,
    federation: Object.freeze({
      file: e.FEDERATION_FILE,
      required: cleaned.FEDERATION_FILE !== undefined,
    }),
    localLogin: e.LOCAL_LOGIN,
    logLevel: e.LOG_LEVEL,
    trustProxy: e.TRUST_PROXY,
    accessTokenTtl: e.ACCESS_TOKEN_TTL,
    cibaPollInterval: e.CIBA_POLL_INTERVAL,
    auditIngestEventsPerMinute: e.AUDIT_INGEST_EVENTS_PER_MINUTE,
    outboundAllow,
    auditCheckpoints: Object.freeze({
      everyEvents: e.AUDIT_CHECKPOINT_EVERY_EVENTS,
      everySeconds: e.AUDIT_CHECKPOINT_EVERY_SECONDS,
      dir: e.AUDIT_CHECKPOINT_DIR ?? join(e.DATA_DIR, 'audit-checkpoints'),
      ...(webhook ? { webhook } : {}),
    }),
    adminRequirePasskey: e.ADMIN_REQUIRE_PASSKEY,
  });
}
