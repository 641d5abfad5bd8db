import { once } from 'node:events';
import { createServer, type AddressInfo } from 'node:net';
import { simpleParser, type ParsedMail } from 'mailparser';
import { SMTPServer } from 'smtp-server';

/** A message as the test SMTP server received it: mailparser's reading of it, and the envelope. */
export interface ReceivedMail extends Omit<ParsedMail, 'subject'> {
  /** `Subject`, decoded; `''` when absent. */
  subject: string;
  raw: string;
  /** RCPT TO addresses of the SMTP envelope. */
  rcptTo: string[];
}

/** An in-process SMTP server on 127.0.0.1 that records what it receives; the one tests share. */
export interface TestSmtpServer {
  port: number;
  /** Messages accepted, in the order of their 250 reply. */
  received: ReceivedMail[];
  /** SMTP sessions opened so far. */
  readonly connections: number;
  /** SMTP sessions ended so far. */
  readonly closed: number;
  /** Messages in their DATA phase right now: DATA begun, no reply sent yet. */
  readonly inData: number;
  /** The most messages ever in their DATA phase at one time. */
  readonly maxInData: number;
  close(): Promise<void>;
}

/** Options of {@link startSmtpServer}. */
export interface TestSmtpOptions {
  /** Listen on this port. Default: any free one. */
  port?: number;
  /** Advertise AUTH over plain text and refuse every login with a reply that echoes the password. */
  rejectAuth?: boolean;
  /**
   * Decides about each message before the server replies: resolve to accept it, reject with an
   * error whose `responseCode` is the reply (e.g. 451) to refuse it. Default: accept at once.
   */
  onMessage?: (mail: ReceivedMail) => Promise<void> | void;
}

/** An error {@link TestSmtpOptions.onMessage} rejects with to make the server reply `code`. */
export function smtpReply(code: number, message: string): Error {
  return Object.assign(new Error(message), { responseCode: code });
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
export async function startSmtpServer(opts: TestSmtpOptions = {}): Promise<TestSmtpServer> {
  const received: ReceivedMail[] = [];
  const count = { connections: 0, closed: 0, inData: 0, maxInData: 0 };
  const server = new SMTPServer({
    // No STARTTLS: the built-in certificate is self-signed and the test is about delivery.
    disabledCommands: opts.rejectAuth ? ['STARTTLS'] : ['STARTTLS', 'AUTH'],
    allowInsecureAuth: true,
    authOptional: !opts.rejectAuth,
    logger: false,
    onAuth(auth, _session, callback) {
      callback(
        new Error(`Authentication failed for ${auth.username} with password ${auth.password}`),
      );
    },
    onConnect(_session, callback) {
      count.connections++;
      callback();
    },
    onClose() {
      count.closed++;
    },
    onData(stream, session, callback) {
      count.maxInData = Math.max(count.maxInData, ++count.inData);
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        const raw = Buffer.concat(chunks).toString('utf8');
        const rcptTo = session.envelope.rcptTo.map((r) => r.address);
        simpleParser(raw)
          .then(async (parsed) => {
            const mail: ReceivedMail = { ...parsed, subject: parsed.subject ?? '', raw, rcptTo };
            await opts.onMessage?.(mail);
            return mail;
          })
          .then(
            (mail) => {
              count.inData--;
              received.push(mail);
              callback();
            },
            (err: Error) => {
              count.inData--;
              callback(err);
            },
          );
      });
    },
  });
  server.listen(opts.port ?? 0, '127.0.0.1');
  await once(server.server, 'listening');
  const { port } = server.server.address() as AddressInfo;
  return {
    port,
    received,
    get connections() {
      return count.connections;
    },
    get closed() {
      return count.closed;
    },
    get inData() {
      return count.inData;
    },
    get maxInData() {
      return count.maxInData;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
