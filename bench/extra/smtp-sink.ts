/**
 * An SMTP server on 127.0.0.1 (smtp-server) that accepts every message and tells the benchmark
 * the moment each was accepted: the end of `onData`, right before the 250 reply, which is when
 * the sender's delivery counts as done.
 */
import { once } from 'node:events';
import type { AddressInfo, Socket } from 'node:net';
import { SMTPServer } from 'smtp-server';

export interface SmtpSink {
  url: string;
  /** Messages accepted so far. */
  readonly accepted: number;
  /** TCP connections accepted so far (a pooled sender reuses each for many messages). */
  readonly connections: number;
  close(): Promise<void>;
}

/**
 * Starts the sink; `onMessage(raw, acceptedAt, connectedAt)` gets each message with the
 * `performance.now()` of its acceptance and of the accepted TCP connection that carried it.
 *
 * Note: smtp-server waits 100 ms after accepting a connection before it greets (to catch clients
 * that talk too soon; not configurable), so every SMTP session with it lasts at least 100 ms.
 */
export async function startSmtpSink(
  onMessage: (raw: string, acceptedAt: number, connectedAt: number) => void,
): Promise<SmtpSink> {
  let accepted = 0;
  let connections = 0;
  // By the client's port: smtp-server tells its hooks about a connection only after its pause.
  const connectedAt = new Map<number, number>();
  const server = new SMTPServer({
    // Plain SMTP on loopback: no STARTTLS (its certificate is self-signed), no AUTH.
    disabledCommands: ['STARTTLS', 'AUTH'],
    authOptional: true,
    // smtp-server resolves every client's address by default: a DNS round trip per connection
    // that says nothing about the sender (and is slow on machines without a resolver).
    disableReverseLookup: true,
    logger: false,
    onClose(session) {
      connectedAt.delete(session.remotePort);
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        const acceptedAt = performance.now();
        accepted++;
        onMessage(
          Buffer.concat(chunks).toString('utf8'),
          acceptedAt,
          connectedAt.get(session.remotePort) ?? acceptedAt,
        );
        callback();
      });
    },
  });
  server.server.on('connection', (socket: Socket) => {
    connections++;
    if (socket.remotePort !== undefined) connectedAt.set(socket.remotePort, performance.now());
  });
  server.listen(0, '127.0.0.1');
  await once(server.server, 'listening');
  const { port } = server.server.address() as AddressInfo;
  return {
    url: `smtp://127.0.0.1:${port}`,
    get accepted() {
      return accepted;
    },
    get connections() {
      return connections;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
