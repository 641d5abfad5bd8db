import {
  createServer,
  request as httpRequest,
  type IncomingHttpHeaders,
  type OutgoingHttpHeaders,
  type Server,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import { nodeHttpAuth, type AuthenticatedRequest } from '../../../src/verifier/http/node.ts';
import type { ResourceServerAuthOptions } from '../../../src/verifier/http/guard.ts';

/** The verifier's default DPoP algorithms: the `algs` offered by a resource that takes DPoP. */
export const DEFAULT_DPOP_ALGS = 'ES256 ES384 EdDSA Ed25519 PS256 RS256';

/** A started HTTP server and its base URL. */
export interface Started {
  url: string;
  server: Server;
  close(): Promise<void>;
}

export async function listen(server: Server): Promise<Started> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/**
 * An "MCP server" guarded by `nodeHttpAuth`: the handler echoes what it was given and counts
 * how often it was reached, so tests can prove a request never got there.
 */
export async function startGuardedServer(
  options: ResourceServerAuthOptions | ((baseUrl: string) => ResourceServerAuthOptions),
): Promise<Started & { reached: () => number }> {
  const holder: { guard?: ReturnType<typeof nodeHttpAuth> } = {};
  let reached = 0;
  const server = createServer(async (req, res) => {
    if ((await holder.guard!(req, res)) === undefined) return;
    reached += 1;
    const { auth, body } = req as AuthenticatedRequest;
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify({ reached: true, auth, body }));
  });
  const started = await listen(server);
  // The resource URL usually names this very server, so options may depend on its port.
  holder.guard = nodeHttpAuth(typeof options === 'function' ? options(started.url) : options);
  return Object.assign(started, { reached: () => reached });
}

/** What {@link send} resolves to. */
export interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
  json(): any;
}

/** A raw HTTP request (node:http, so headers can be repeated or odd). */
export function send(
  url: string,
  options: { method?: string; headers?: OutgoingHttpHeaders; body?: string | Buffer } = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      url,
      { method: options.method ?? 'GET', headers: options.headers },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            text,
            json: () => JSON.parse(text),
          });
        });
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
}

/** A JSON-RPC POST as an MCP client sends it. */
export function postJsonRpc(
  url: string,
  token: string | undefined,
  message: unknown,
  headers: OutgoingHttpHeaders = {},
): Promise<Reply> {
  return send(url, {
    method: 'POST',
    headers: {
      'Content-Type': 'application/json',
      Accept: 'application/json, text/event-stream',
      ...(token === undefined ? {} : { Authorization: `Bearer ${token}` }),
      ...headers,
    },
    body: typeof message === 'string' ? message : JSON.stringify(message),
  });
}
