import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Server } from '../../src/main.ts';
import { registerClient, type NewClientInput } from '../../src/oidc/clients.ts';

/** A person of the demo: who they are, what they may do, and which approver group they sit in. */
export interface DemoUser {
  email: string;
  name: string;
  roles: string[];
  groups: string[];
  /** One line for the walkthrough: what to try as this user. */
  part: string;
}

/** Everyone the demo creates; the security-team member doubles as the administrator. */
export const DEMO_USERS: readonly DemoUser[] = [
  {
    email: 'viewer@example.com',
    name: 'Val Viewer',
    roles: ['viewer'],
    groups: [],
    part: 'read-only tools, cannot elevate',
  },
  {
    email: 'developer@example.com',
    name: 'Dana Developer',
    roles: ['developer'],
    groups: [],
    part: 'staging deploys, no approval',
  },
  {
    email: 'senior@example.com',
    name: 'Sid Senior',
    roles: ['senior_developer'],
    groups: [],
    part: 'production deploys, with approval',
  },
  {
    email: 'lead@example.com',
    name: 'Lee Lead',
    roles: ['developer'],
    groups: ['tech-lead'],
    part: 'approves production deploys',
  },
  {
    email: 'sre@example.com',
    name: 'Riley Oncall',
    roles: ['viewer'],
    groups: ['sre-oncall'],
    part: 'approves production deploys',
  },
  {
    email: 'security@example.com',
    name: 'Sasha Security',
    roles: ['admin'],
    groups: ['security-team'],
    part: 'administrator; approves mcp:admin',
  },
];

/** The demo agent: a confidential client that signs users in and elevates over CIBA; no roles of its own. */
export const AGENT_ID = 'demo-agent';
/** The example MCP server's own client: sends its audit events to the server. */
export const EXAMPLE_CLIENT_ID = 'example-mcp-server';
/**
 * Where the agent's sign-in ends. Nothing serves it (the demo has no agent web app): the browser
 * shows an error page and the code is read from its address bar. Port-free so that it stays valid
 * when PORT or EXAMPLE_PORT change between runs on the same data.
 */
export const AGENT_REDIRECT = 'http://localhost/demo-agent/callback';
export const CIBA_GRANT = 'urn:openid:params:grant-type:ciba';

/** The demo cannot start for a reason the user can fix; printed as one line. */
export class DemoError extends Error {}

/** Passwords and secrets of the demo, kept in `DATA_DIR/demo-credentials.json` (mode 0600). */
export interface DemoCredentials {
  passwords: Record<string, string>;
  agentSecret: string;
  exampleSecret: string;
}

const FILE = 'demo-credentials.json';
const secret = (bytes: number) => randomBytes(bytes).toString('base64url');

/**
 * Reads the credentials of an earlier run, generating what is missing. Random rather than fixed
 * so that a demo left running on a shared machine is not open to anyone who read the README.
 * Returns which entries were generated now (those must be (re)applied to existing accounts) and
 * `save`, to be called once they are: a file saved earlier could name a secret nothing accepts.
 */
export async function loadCredentials(
  dataDir: string,
): Promise<{ credentials: DemoCredentials; generated: Set<string>; save(): Promise<void> }> {
  const file = join(dataDir, FILE);
  const stored = await readFile(file, 'utf8').then(
    (s) => JSON.parse(s) as Partial<DemoCredentials>,
    () => ({}) as Partial<DemoCredentials>,
  );
  const generated = new Set<string>();
  const pick = (key: string, value: string | undefined, bytes: number) => {
    if (value) return value;
    generated.add(key);
    return secret(bytes);
  };
  const credentials: DemoCredentials = {
    passwords: Object.fromEntries(
      DEMO_USERS.map((u) => [u.email, pick(u.email, stored.passwords?.[u.email], 9)]),
    ),
    agentSecret: pick(AGENT_ID, stored.agentSecret, 24),
    exampleSecret: pick(EXAMPLE_CLIENT_ID, stored.exampleSecret, 24),
  };
  const save = async () => {
    if (generated.size)
      await writeFile(file, `${JSON.stringify(credentials, null, 2)}\n`, { mode: 0o600 });
  };
  return { credentials, generated, save };
}

/**
 * Creates the demo users and clients, or finds them from an earlier run. A user whose password
 * was just generated (the credentials file was deleted) gets it set; a client cannot be mended
 * that way, so that case stops with a clear message.
 */
export async function seedDemo(
  server: Server,
  credentials: DemoCredentials,
  generated: Set<string>,
): Promise<void> {
  for (const user of DEMO_USERS) {
    const password = credentials.passwords[user.email]!;
    const existing = await server.users.findCredentials(user.email);
    if (!existing) await server.users.create({ ...user, password });
    else if (generated.has(user.email)) await server.users.setPassword(existing.id, password);
  }
  await ensureClient(server, generated, {
    id: AGENT_ID,
    secret: credentials.agentSecret,
    name: 'Demo agent',
    redirectUris: [AGENT_REDIRECT],
    roles: [],
    grantTypes: ['authorization_code', 'refresh_token', 'client_credentials', CIBA_GRANT],
  });
  await ensureClient(server, generated, {
    id: EXAMPLE_CLIENT_ID,
    secret: credentials.exampleSecret,
    name: 'Example MCP server',
    grantTypes: ['client_credentials'],
    scope: 'audit:write mcp:tools:read mcp:resources:read',
    // The MCP server of the catalogue's (first) resource: it posts that resource's audit events.
    mcpResource: Object.keys(server.catalogue.resources)[0],
  });
}

async function ensureClient(
  server: Server,
  generated: Set<string>,
  input: NewClientInput,
): Promise<void> {
  try {
    await registerClient(server.provider, server.db.db, input);
  } catch (err) {
    if ((err as { code?: string }).code !== 'ERR_CONFLICT') throw err;
    if (generated.has(input.id)) {
      throw new DemoError(
        `client ${input.id} exists but its secret was lost with ${FILE}: delete the demo data folder to start over`,
        { cause: err },
      );
    }
  }
}
