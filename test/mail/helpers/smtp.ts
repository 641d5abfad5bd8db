import { once } from 'node:events';
import { createServer, type AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';
import { parseMail, type ParsedMail } from './mime.ts';

/** A message as the test SMTP server received it. */
export interface ReceivedMail extends ParsedMail {
  raw: string;
  /** RCPT TO addresses of the SMTP envelope. */
  rcptTo: string[];
}

/** An in-process SMTP server on 127.0.0.1 that records what it receives. */
export interface TestSmtpServer {
  port: number;
  received: ReceivedMail[];
  close(): Promise<void>;
}

/** A port that was free a moment ago: for an SMTP server that is "down" and starts later. */
export async function freePort(): Promise<number> {
  const probe = createServer().listen(0, '127.0.0.1');
  await once(probe, 'listening');
  const { port } = probe.address() as AddressInfo;
  probe.close();
  await once(probe, 'close');
  return port;
}

/**
 * Starts a real SMTP server (smtp-server). `rejectAuth`: advertises AUTH over plain text and
 * refuses every login with a reply that echoes the password, as a careless server might.
 */
export async function startSmtpServer(opts: { port?: number; rejectAuth?: boolean } = {}): Promise<TestSmtpServer> {
  const received: ReceivedMail[] = [];
  const server = new SMTPServer({
    // No STARTTLS: the built-in certificate is self-signed and the test is about delivery.
    disabledCommands: opts.rejectAuth ? ['STARTTLS'] : ['STARTTLS', 'AUTH'],
    allowInsecureAuth: true,
    authOptional: !opts.rejectAuth,
    logger: false,
    onAuth(auth, _session, callback) {
      callback(new Error(`Authentication failed for ${auth.username} with password ${auth.password}`));
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        const raw = Buffer.concat(chunks).toString('utf8');
        received.push({ ...parseMail(raw), raw, rcptTo: session.envelope.rcptTo.map((r) => r.address) });
        callback();
      });
    },
  });
  server.listen(opts.port ?? 0, '127.0.0.1');
  await once(server.server, 'listening');
  const { port } = server.server.address() as AddressInfo;
  return {
    port,
    received,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
