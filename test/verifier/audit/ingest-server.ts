import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { AuditEvent } from '../../../src/verifier/observability/audit-event.ts';

/** How the test ingest server answers the next POSTs. */
export type Behaviour = (req: IncomingMessage) => number;

/**
 * A real HTTP ingest endpoint on 127.0.0.1 that stores events idempotently by id, like the
 * server's `/audit/v1/events`, and counts what it saw.
 */
export class IngestServer {
  readonly events = new Map<string, AuditEvent>();
  /** Accepted deliveries per event id (a second delivery of an id is stored once). */
  readonly deliveries = new Map<string, number>();
  readonly posts: Array<{
    status: number;
    authorization?: string;
    contentType?: string;
    size: number;
  }> = [];
  /** Status to answer; 200 stores the events. */
  behaviour: Behaviour = () => 200;
  #server: Server | undefined;
  #port = 0;

  get url(): string {
    return `http://127.0.0.1:${this.#port}/audit/v1/events`;
  }

  async start(): Promise<void> {
    const server = createServer((req, res) => void this.#handle(req, res));
    await new Promise<void>((resolve) => server.listen(this.#port, '127.0.0.1', resolve));
    this.#port = (server.address() as AddressInfo).port;
    this.#server = server;
  }

  /** Stops listening and cuts open connections (an outage), keeping the port for a restart. */
  async stop(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    if (server === undefined) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const status = this.behaviour(req);
    let size = 0;
    if (status === 200) {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { events: AuditEvent[] };
      size = body.events.length;
      for (const event of body.events) {
        this.events.set(event.id, event);
        this.deliveries.set(event.id, (this.deliveries.get(event.id) ?? 0) + 1);
      }
    }
    this.posts.push({
      status,
      authorization: req.headers.authorization,
      contentType: req.headers['content-type'],
      size,
    });
    res
      .writeHead(status, { 'content-type': 'application/json' })
      .end(JSON.stringify({ accepted: size }));
  }
}

/** Polls `check` until it holds (or fails the test after `timeoutMs`). */
export async function waitFor(check: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
