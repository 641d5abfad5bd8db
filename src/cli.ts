import { parseArgs } from 'node:util';
import { loadConfig } from './config/env.ts';
import { cliFailure } from './cli-errors.ts';
import { createServer, type Server } from './main.ts';
import { startServer } from './serve.ts';
import { connect } from './db/connect.ts';
import { DatabaseInUseError } from './db/embedded.ts';
import type { LockInfo } from './db/owner-lock.ts';
import { migrateToLatest } from './db/migrate.ts';
import { BREAK_GLASS_ATTRIBUTE } from './accounts/sign-in.ts';
import {
  CLIENT_AUTH_METHODS,
  clientAuthentication,
  type ClientAuthMethod,
  type NewClientInput,
} from './oidc/clients.ts';
import {
  addClient,
  addUser,
  clientInput,
  rotateAuditKeys,
  rotateKeys,
  UsageError,
  userInput,
} from './cli-admin.ts';

const HELP: Record<string, string> = {
  main: `Usage: mcp-elevate <command> [options]

Commands:
  serve                 start the authorization server (default port 3000)
  migrate               bring the database schema up to date
  users add|list        manage local users
  clients add           register an OAuth client (agent, MCP server, app)
  keys rotate           add a new signing key; old keys stay published until their tokens expire
  audit verify          check the audit log's hash chain for tampering
  example-mcp-server    start the example MCP server protected by the verifier (port 4000)
  gateway               protect any MCP server (any language) as a reverse proxy (port 4200)

Configuration comes from environment variables (see README). Use '<command> --help' for details.`,
  serve:
    'Usage: mcp-elevate serve\n\nStarts the server with the configuration from the environment.',
  migrate: 'Usage: mcp-elevate migrate\n\nApplies pending database migrations and exits.',
  'users add': `Usage: mcp-elevate users add --email E --password P [--name N] [--role R]... [--group G]... [--break-glass]
  --break-glass   the account may sign in with its password even when LOCAL_LOGIN=false`,
  'users list':
    'Usage: mcp-elevate users list\n\nPrints one user a line: email, name, roles, groups.',
  'clients add': `Usage: mcp-elevate clients add --id ID [--secret S] [--redirect-uri U]... [--grant-type T]... [--role R]... [--name N]
       [--mcp-resource URL] [--auth-method M] [--jwks-uri URL | --jwks JSON]

Without --redirect-uri the client uses client_credentials; a secret is generated when not given.
--mcp-resource registers the client as the MCP server of that resource: it may post that
resource's audit events (scope audit:write).
--auth-method is how the client authenticates at the token endpoint:
  client_secret_basic  secret in the Authorization header (default for confidential clients)
  client_secret_post   secret in the request body (client_secret)
  private_key_jwt      a signed client_assertion; needs --jwks-uri URL or --jwks '{"keys":[...]}'
  none                 public client (default with --redirect-uri and no --secret); not for client_credentials`,
  'keys rotate':
    'Usage: mcp-elevate keys rotate [--audit]\n\nAdds a new ES256 signing key; previous keys stay in the JWKS for 24 h.\n--audit rotates the key that signs audit checkpoints instead: the new one signs from the next\ncheckpoint on (no restart); previous ones lose their private half and stay in /audit/v1/jwks.',
  'audit verify': `Usage: mcp-elevate audit verify [--checkpoints <file|dir|url>]... [--jwks <file|url>] [--json]

Walks the audit log's hash chain in order, then checks it against signed checkpoints: by default
the checkpoint folder (AUDIT_CHECKPOINT_DIR, default DATA_DIR/audit-checkpoints) and the
database's own list; with --checkpoints, only the files, folders or URLs given (a URL is
<ISSUER>/audit/v1/checkpoints or a copy of it). Checkpoint signatures are checked with the
database's audit keys, or with --jwks (a copy of <ISSUER>/audit/v1/jwks you keep).

Prints 'ok: N events…' and exits 0, or names the first break and exits 1:
  'tampered: <kind> at seq S (id): reason', kind one of edited, deleted, inserted, reordered,
  truncated (the chain ends before a checkpoint), rewritten (the chain differs from a checkpoint,
  or a checkpoint was refused: another key, a bad signature, an older one replayed).
Exit 2: bad usage or configuration; exit 3: the database or a source could not be read.
--json prints the whole result as one JSON object on stdout (also on exit 1 and 3).
Opens the database the server uses (DATABASE_URL or DATA_DIR).`,
  'example-mcp-server': `Usage: mcp-elevate example-mcp-server [--port 4000]

Serves the example deployment tools at http://localhost:<port>/mcp. Environment: ISSUER (default
http://localhost:3000); EXAMPLE_RESOURCE (default http://localhost:<port>/mcp, must be a resource of
scopes.json); EXAMPLE_CLIENT_ID and EXAMPLE_CLIENT_SECRET (optional: a client_credentials client
whose token sends audit events).`,
  gateway: `Usage: mcp-elevate gateway --upstream URL [--port 4200] [--host H] [--resource URL]
       mcp-elevate gateway --config FILE

Protects an MCP server of any language: serves it at the resource's path (default /mcp) with
this server's tokens, policy, step-up, rate limits, metrics and audit, and never forwards the
caller's token. --config serves several upstreams (see gateway.schema.json). Environment:
ISSUER (default http://localhost:3000); GATEWAY_CLIENT_ID and GATEWAY_CLIENT_SECRET (optional:
a client_credentials client whose token sends audit events); GATEWAY_PRINCIPAL_SECRET (optional,
--upstream only: sign the caller into an Mcp-Elevate-Principal header with this HS256 key).`,
};

/** Tells the operator why a command pauses: the embedded database's owner is busy or starting. */
const waiting = (holder: LockInfo) =>
  console.error(
    `mcp-elevate: waiting for process ${holder.pid} (${holder.command}), which holds the embedded database`,
  );

/**
 * Runs `fn` on the server's services without listening. With the embedded database it goes
 * through the running server when there is one, so the change applies there at once.
 */
async function withServer<T>(command: string, fn: (s: Server) => Promise<T>): Promise<T> {
  const server = await createServer(loadConfig(), {
    workers: false,
    bootstrapAdmin: false,
    log: (await import('pino')).pino({ level: 'silent' }),
    embedded: { role: 'use', command: `mcp-elevate ${command}`, onWait: waiting },
  });
  try {
    return await fn(server);
  } finally {
    await server.close();
  }
}

function parse(
  args: string[],
  options: Record<string, { type: 'string' | 'boolean'; multiple?: boolean }>,
) {
  try {
    return parseArgs({
      args,
      options: { ...options, help: { type: 'boolean' } },
      strict: true,
      allowPositionals: false,
    }).values as Record<string, string | string[] | boolean | undefined>;
  } catch (err) {
    throw new UsageError((err as Error).message.split('\n')[0]);
  }
}

const need = (v: unknown, name: string): string => {
  if (typeof v !== 'string' || !v) throw new UsageError(`--${name} is required`);
  return v;
};

/** `--auth-method`, `--jwks-uri`, `--jwks` of `clients add`; a bad combination is a usage error. */
function clientAuthFlags(
  v: Record<string, unknown>,
): Pick<NewClientInput, 'authMethod' | 'jwksUri' | 'jwks'> {
  const method = v['auth-method'] as string | undefined;
  if (method !== undefined && !(CLIENT_AUTH_METHODS as readonly string[]).includes(method)) {
    throw new UsageError(`--auth-method must be one of ${CLIENT_AUTH_METHODS.join(', ')}`);
  }
  let jwks: NewClientInput['jwks'];
  if (typeof v.jwks === 'string') {
    try {
      jwks = JSON.parse(v.jwks) as NewClientInput['jwks'];
    } catch {
      throw new UsageError('--jwks must be a JSON Web Key Set: {"keys":[...]}');
    }
    if (!jwks || !Array.isArray(jwks.keys))
      throw new UsageError('--jwks must be a JSON Web Key Set: {"keys":[...]}');
  }
  const flags = {
    authMethod: method as ClientAuthMethod | undefined,
    jwksUri: v['jwks-uri'] as string | undefined,
    jwks,
  };
  try {
    clientAuthentication(
      {
        id: '-',
        secret: v.secret as string | undefined,
        redirectUris: v['redirect-uri'] as string[] | undefined,
        ...flags,
      },
      (v['grant-type'] as string[] | undefined) ??
        (v['redirect-uri'] ? [] : ['client_credentials']),
    );
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  return flags;
}

export async function main(argv: string[]): Promise<number> {
  const [cmd, sub] = argv;
  const key = sub && !sub.startsWith('-') ? `${cmd} ${sub}` : (cmd ?? '');
  const rest = argv.slice(key.split(' ').length);
  if (!cmd || cmd === '--help' || cmd === 'help') {
    console.log(HELP.main);
    return cmd ? 0 : 1;
  }
  if (!HELP[key]) throw new UsageError(`unknown command '${key}' (see mcp-elevate --help)`);
  if (rest.includes('--help')) {
    console.log(HELP[key]);
    return 0;
  }
  switch (key) {
    case 'serve':
      parse(rest, {});
      await startServer();
      return -1; // keeps running
    case 'migrate': {
      parse(rest, {});
      const config = loadConfig();
      const db = await connect({
        databaseUrl: config.databaseUrl,
        dataDir: config.dataDir,
        command: 'mcp-elevate migrate',
        onWait: waiting,
      });
      try {
        const applied = await migrateToLatest(db.db);
        console.log(applied.length ? `applied: ${applied.join(', ')}` : 'schema is up to date');
      } finally {
        await db.close();
      }
      return 0;
    }
    case 'users add': {
      const v = parse(rest, {
        email: { type: 'string' },
        password: { type: 'string' },
        name: { type: 'string' },
        role: { type: 'string', multiple: true },
        group: { type: 'string', multiple: true },
        'break-glass': { type: 'boolean' },
      });
      const input = userInput({
        email: need(v.email, 'email'),
        password: need(v.password, 'password'),
        name: v.name as string | undefined,
        roles: v.role as string[] | undefined,
        groups: v.group as string[] | undefined,
        ...(v['break-glass'] ? { attributes: { [BREAK_GLASS_ATTRIBUTE]: true } } : {}),
      });
      const user = await withServer(key, (s) => addUser(s, input));
      console.log(`created user ${user.email} (${user.id})`);
      return 0;
    }
    case 'users list': {
      parse(rest, {});
      const users = await withServer(key, (s) => s.users.list({ limit: 10_000 }));
      for (const u of users)
        console.log(
          [
            u.email,
            u.name || '-',
            u.roles.join(',') || '-',
            u.groups.join(',') || '-',
            u.disabled ? 'disabled' : '',
          ]
            .join('\t')
            .trimEnd(),
        );
      return 0;
    }
    case 'clients add': {
      const v = parse(rest, {
        id: { type: 'string' },
        secret: { type: 'string' },
        name: { type: 'string' },
        'redirect-uri': { type: 'string', multiple: true },
        'grant-type': { type: 'string', multiple: true },
        role: { type: 'string', multiple: true },
        'mcp-resource': { type: 'string' },
        'auth-method': { type: 'string' },
        'jwks-uri': { type: 'string' },
        jwks: { type: 'string' },
      });
      const auth = clientAuthFlags(v);
      const input = clientInput({
        mcpResource: v['mcp-resource'] as string | undefined,
        id: need(v.id, 'id'),
        secret: v.secret as string | undefined,
        name: v.name as string | undefined,
        redirectUris: v['redirect-uri'] as string[] | undefined,
        grantTypes: v['grant-type'] as string[] | undefined,
        roles: v.role as string[] | undefined,
        tokenEndpointAuthMethod: auth.authMethod,
        jwksUri: auth.jwksUri,
        jwks: auth.jwks,
      });
      const res = await withServer(key, (s) => addClient(s, input));
      console.log(`created client ${res.clientId}`);
      // The secret is shown once here, where the operator asked for it; it is never logged.
      if (res.clientSecret && !v.secret) console.log(`client secret: ${res.clientSecret}`);
      return 0;
    }
    case 'example-mcp-server': {
      const v = parse(rest, { port: { type: 'string' } });
      const port = v.port === undefined ? 4000 : Number(v.port);
      if (!Number.isInteger(port) || port < 1 || port > 65535)
        throw new UsageError('--port must be a port number (1-65535)');
      // Loaded on demand: the example is a verifier client and needs none of the server code.
      const { startExampleMcpServer } = await import('./example/index.ts');
      const env = process.env;
      const example = await startExampleMcpServer({
        issuer: env.ISSUER ?? 'http://localhost:3000',
        port,
        resource: env.EXAMPLE_RESOURCE || undefined,
        clientId: env.EXAMPLE_CLIENT_ID || undefined,
        clientSecret: env.EXAMPLE_CLIENT_SECRET || undefined,
      });
      console.log(`example MCP server: ${example.resource} (listening on ${example.url})`);
      for (const signal of ['SIGINT', 'SIGTERM'] as const)
        process.once(signal, () => void example.close().finally(() => process.exit(0)));
      return -1; // keeps running
    }
    case 'gateway': {
      // Loaded on demand: the gateway is resource-server code and needs none of the server.
      const { runGateway } = await import('./gateway/cli.ts');
      return runGateway(rest);
    }
    case 'audit verify': {
      const v = parse(rest, {
        checkpoints: { type: 'string', multiple: true },
        jwks: { type: 'string' },
        json: { type: 'boolean' },
      });
      const config = loadConfig();
      const { runAuditVerify, VERIFY_EXIT } = await import('./audit/verify-command.ts');
      let db: Awaited<ReturnType<typeof connect>>;
      try {
        db = await connect({
          databaseUrl: config.databaseUrl,
          dataDir: config.dataDir,
          command: 'mcp-elevate audit verify',
          onWait: waiting,
        });
      } catch (err) {
        if (err instanceof DatabaseInUseError) throw err;
        console.error(`mcp-elevate: could not verify: database: ${(err as Error).message}`);
        return VERIFY_EXIT.unavailable;
      }
      try {
        return await runAuditVerify({
          db: db.db,
          checkpoints: v.checkpoints as string[] | undefined,
          jwks: v.jwks as string | undefined,
          dir: config.auditCheckpoints.dir,
          // Checkpoints carry the issuer; it is checked when the environment names one.
          issuer: process.env.ISSUER ? config.issuer : undefined,
          json: v.json === true,
        });
      } finally {
        await db.close();
      }
    }
    case 'keys rotate': {
      if (parse(rest, { audit: { type: 'boolean' } }).audit) {
        const res = await withServer(key, (s) => rotateAuditKeys(s));
        console.log(
          `new audit key ${res.kid}; ${res.retired.length} previous key(s) retired (still published)`,
        );
        return 0;
      }
      const { res, owner } = await withServer(key, async (s) => ({
        res: await rotateKeys(s),
        owner: s.db.owner,
      }));
      console.log(
        `new signing key ${res.kid}; ${res.retiring.length} previous key(s) stay published for 24 h`,
      );
      // A server signs with the keys it loaded at start (README "Key rotation").
      if (owner) console.log(`the server running as process ${owner} signs with it once restarted`);
      return 0;
    }
  }
  return 1;
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exit(code);
  },
  (err: unknown) => {
    const { message, exitCode } = cliFailure(err);
    console.error(`mcp-elevate: ${message}`);
    process.exit(exitCode);
  },
);
