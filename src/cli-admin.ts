import { userInfo } from 'node:os';
import type { z } from 'zod';
import { AppError, notFound } from './errors.ts';
import type { AdminActor } from './admin/auth.ts';
import {
  ClientCreateBody,
  RoleAssignmentBody,
  UserCreateBody,
  type ClientCreate,
  type UserCreate,
} from './admin/schemas.ts';
import { ClientAdminService, type ClientRecord } from './admin/services/clients.ts';
import { KeyAdminService } from './admin/services/keys.ts';
import { UserAdminService } from './admin/services/users.ts';
import type { Server } from './main.ts';

/**
 * The command line's changes go through the admin API's services (ARCHITECTURE.md §8 "Every change is
 * audited"): the same input schemas, the same rules, the same audit events. The actor is the
 * operating-system user (`cli:<user>`); the command takes the place of the OAuth client
 * (`cli:users-add`).
 * @module
 */

/** Thrown for bad command-line input; printed as one line, exit code 2. */
export class UsageError extends AppError<'ERR_USAGE'> {
  constructor(message: string) {
    super('ERR_USAGE', message);
  }
}

function osUser(): string {
  try {
    return userInfo().username;
  } catch {
    // No passwd entry (some containers): the environment is the best we have.
    return process.env.USER || process.env.LOGNAME || 'unknown';
  }
}

/** The audit actor of a command, e.g. `{ userId: 'cli:alice', clientId: 'cli:users-add' }`. */
export function cliActor(command: string): AdminActor {
  return { userId: `cli:${osUser()}`, clientId: `cli:${command.replace(/ /g, '-')}` };
}

/**
 * Validates with the admin API's body schema; a refusal names the command-line flag.
 * `flags` maps body fields to flags (`roles` → `role`).
 */
function validate<S extends z.ZodType>(
  schema: S,
  input: unknown,
  flags: Record<string, string>,
): z.output<S> {
  const parsed = schema.safeParse(input);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  const field = String(issue.path[0] ?? '');
  throw new UsageError(`--${flags[field] ?? field}: ${issue.message}`);
}

/** `users add` options checked by the admin API's rules, before anything is opened. */
export function userInput(input: {
  email: string;
  password: string;
  name?: string;
  roles?: string[];
  groups?: string[];
  attributes?: Record<string, unknown>;
}): UserCreate {
  return validate(UserCreateBody, input, { roles: 'role', groups: 'group' });
}

/** `clients add` options checked by the admin API's rules; `secret` is the command line's own. */
export function clientInput(input: {
  id: string;
  secret?: string;
  name?: string;
  redirectUris?: string[];
  grantTypes?: string[];
  roles?: string[];
  mcpResource?: string;
  tokenEndpointAuthMethod?: string;
  jwksUri?: string;
  jwks?: unknown;
}): ClientCreate & { secret?: string } {
  const { secret, ...fields } = input;
  const body = validate(ClientCreateBody, fields, {
    redirectUris: 'redirect-uri',
    grantTypes: 'grant-type',
    roles: 'role',
    mcpResource: 'mcp-resource',
    tokenEndpointAuthMethod: 'auth-method',
    jwksUri: 'jwks-uri',
    jwks: 'jwks',
  });
  return secret === undefined ? body : { ...body, secret };
}

/** `users roles` / `clients roles`: the role names checked by the admin API's rules. */
export function rolesInput(roles: string[] | undefined): string[] {
  return validate(RoleAssignmentBody, { roles: roles ?? [] }, { roles: 'role' }).roles;
}

/** `users add`: creates the user and its `user.created` audit event together. */
export async function addUser(s: Server, body: UserCreate) {
  const service = new UserAdminService({ db: s.db.db, audit: s.audit, roles: s.roles });
  return (await service.create(cliActor('users add'), body)).user;
}

/** `clients add`: registers the client and its `client.created` audit event. */
export async function addClient(s: Server, input: ClientCreate & { secret?: string }) {
  const { secret, ...body } = input;
  const { client, clientSecret } = await clientService(s).create(
    cliActor('clients add'),
    body,
    secret,
  );
  return { clientId: client.id, clientSecret };
}

function clientService(s: Server): ClientAdminService {
  return new ClientAdminService({
    db: s.db.db,
    audit: s.audit,
    provider: s.provider,
    catalogue: s.catalogue,
    roles: s.roles,
  });
}

/** `clients list`: every registered client, in id order (never a secret). */
export async function listClients(s: Server): Promise<ClientRecord[]> {
  const service = clientService(s);
  const all: ClientRecord[] = [];
  let cursor: string | undefined;
  do {
    const page = await service.list({ limit: 100, ...(cursor === undefined ? {} : { cursor }) });
    all.push(...page.items);
    cursor = page.nextCursor ?? undefined;
  } while (cursor !== undefined);
  return all;
}

/** `clients roles`: the client's own roles set to `roles`, audited as `client.roles_set`. */
export async function setClientRoles(s: Server, id: string, roles: string[]) {
  return clientService(s).setRoles(cliActor('clients roles'), id, roles);
}

/**
 * `users roles`: the roles of the user with this email (any spelling the sign-in form accepts)
 * set to `roles`, audited as `user.roles_set`.
 * @throws AppError `ERR_NOT_FOUND` when no user has that email.
 */
export async function setUserRoles(s: Server, email: string, roles: string[]) {
  const user = await s.users.findCredentials(email);
  if (user === undefined) throw notFound(`user ${email}`);
  const service = new UserAdminService({ db: s.db.db, audit: s.audit, roles: s.roles });
  return service.setRoles(cliActor('users roles'), user.id, roles);
}

/** `keys rotate`: the new key and its `signing_key.rotated` audit event. */
export async function rotateKeys(s: Server) {
  return new KeyAdminService({ db: s.db.db, audit: s.audit }).rotate(cliActor('keys rotate'));
}

/** `keys rotate --audit`: the new audit key and its `audit_key.rotated` audit event. */
export async function rotateAuditKeys(s: Server) {
  return new KeyAdminService({ db: s.db.db, audit: s.audit }).rotateAudit(cliActor('keys rotate'));
}
