import { parseArgs } from 'node:util';
import { loadConfig } from './config/env.ts';
import { cliFailure } from './cli-errors.ts';
import { conflict, isAppError } from './errors.ts';
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
  listClients,
  rolesInput,
  rotateAuditKeys,
  rotateKeys,
  setClientRoles,
  setUserRoles,
  UsageError,
  userInput,
} from './cli-admin.ts';
import { HELP } from './cli-help.ts';

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

/** Adding is not updating: a conflict names the command that changes what exists. */
const existing =
  (command: string) =>
  (err: unknown): never => {
    if (isAppError(err, 'ERR_CONFLICT'))
      throw conflict(`${err.message}; change its roles with '${command}'`);
    throw err;
  };

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
  // A group without its command (`clients`, `users --help`): the usage of each of its commands.
  const group = Object.keys(HELP).filter((k) => k.startsWith(`${key} `));
  if (!HELP[key] && group.length > 0 && rest.every((arg) => arg === '--help')) {
    if (rest.length === 0) {
      const names = group.map((k) => k.slice(key.length + 1)).join('|');
      throw new UsageError(`a command is needed: ${key} ${names} (see mcp-elevate ${key} --help)`);
    }
    console.log(group.map((k) => HELP[k]!.split('\n')[0]).join('\n'));
    return 0;
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
      const user = await withServer(key, (s) => addUser(s, input)).catch(
        existing(`mcp-elevate users roles --email ${input.email} --role R`),
      );
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
    case 'users roles': {
      const v = parse(rest, {
        email: { type: 'string' },
        role: { type: 'string', multiple: true },
      });
      const email = need(v.email, 'email');
      const roles = rolesInput(v.role as string[] | undefined);
      const user = await withServer(key, (s) => setUserRoles(s, email, roles));
      console.log(`user ${user.email}: roles ${user.roles.join(',') || '(none)'}`);
      return 0;
    }
    case 'clients list': {
      parse(rest, {});
      for (const c of await withServer(key, listClients))
        console.log(
          [
            c.id,
            c.name || '-',
            c.grantTypes.join(','),
            c.roles.join(',') || '-',
            c.mcpResource ?? '',
          ]
            .join('\t')
            .trimEnd(),
        );
      return 0;
    }
    case 'clients roles': {
      const v = parse(rest, { id: { type: 'string' }, role: { type: 'string', multiple: true } });
      const id = need(v.id, 'id');
      const roles = rolesInput(v.role as string[] | undefined);
      const client = await withServer(key, (s) => setClientRoles(s, id, roles));
      console.log(`client ${client.id}: roles ${client.roles.join(',') || '(none)'}`);
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
      const res = await withServer(key, (s) => addClient(s, input)).catch(
        existing(`mcp-elevate clients roles --id ${input.id} --role R`),
      );
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
