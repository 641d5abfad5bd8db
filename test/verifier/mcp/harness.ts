import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { AuthInfo } from '@modelcontextprotocol/sdk/server/auth/types.js';
import { McpError } from '@modelcontextprotocol/sdk/types.js';
import type { ToolCallDecision } from '../../../src/verifier/http/decide.ts';

/** An `AuthInfo` shaped like the verifier's: `{ subject, roles, elevation }` in `extra`. */
export function authInfo(subject: string, roles: string[], elevation?: string): AuthInfo {
  return {
    token: `token-of-${subject}`,
    clientId: 'agent-1',
    scopes: ['mcp:tools'],
    expiresAt: Math.floor(Date.now() / 1000) + 3600,
    extra: { subject, roles, ...(elevation !== undefined && { elevation }) },
  };
}

/** A connected SDK client; `as(...)` changes the identity later requests carry. */
export interface Connection {
  client: Client;
  as(auth: AuthInfo | undefined): void;
  close(): Promise<void>;
}

/**
 * Connects a real SDK `Client` to `server` over `InMemoryTransport`. The in-memory transport
 * delivers `options.authInfo` of `send` to the server as `extra.authInfo`, which is how an HTTP
 * transport hands over `req.auth`; the client never sets it, so `send` is wrapped to add it.
 */
export async function connect(server: McpServer, auth: AuthInfo | undefined): Promise<Connection> {
  const [clientTransport, serverTransport] = InMemoryTransport.createLinkedPair();
  let current = auth;
  const send = clientTransport.send.bind(clientTransport);
  clientTransport.send = (message, options) => send(message, { ...options, authInfo: current });
  await server.connect(serverTransport);
  const client = new Client({ name: 'test-client', version: '1.0.0' });
  await client.connect(clientTransport);
  return {
    client,
    as: (next) => {
      current = next;
    },
    close: async () => {
      await client.close();
      await server.close();
    },
  };
}

/** The JSON-RPC error a call was answered with (fails the test when the call succeeded). */
export async function rpcError(promise: Promise<unknown>): Promise<McpError> {
  try {
    const result = await promise;
    throw new Error(`expected a JSON-RPC error, got ${JSON.stringify(result)}`);
  } catch (error) {
    if (error instanceof McpError) return error;
    throw error;
  }
}

/** A `decide` that allows everything. */
export const allowAll = (): ToolCallDecision => ({ decision: 'allow' });

/** Resolves after `ms` milliseconds. */
export const sleep = (ms: number): Promise<void> =>
  new Promise((resolve) => setTimeout(resolve, ms));
