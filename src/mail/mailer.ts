import { randomBytes } from 'node:crypto';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import nodemailer from 'nodemailer';
import type SMTPPool from 'nodemailer/lib/smtp-pool';
import type { Logger } from 'pino';
import { credentialRedactor, linksForLog, redactUrls } from './redact.ts';
import { DEFAULTS } from '../config/defaults.ts';

/** One mail as handed to a {@link Mailer}. */
export interface OutgoingMail {
  to: string;
  subject: string;
  text: string;
  html?: string;
  /**
   * Identifies this logical message across retries: it becomes the Message-ID (so a receiver can
   * recognise a duplicate delivery) and part of the `.eml` file name. Must be unique across time
   * and installations. Default: random.
   */
  id?: string;
}

/** Delivers mail; {@link createMailer} builds the nodemailer-backed one. */
export interface Mailer {
  /** Delivers one message; rejects with a {@link MailDeliveryError} whose message is safe to store and log. */
  send(msg: OutgoingMail): Promise<void>;
  /**
   * How many sends it serves at once without queueing them (the SMTP connection pool's size):
   * the outbox worker's default concurrency. Default 1.
   */
  readonly concurrency?: number;
  /**
   * Releases the transport: idle pooled connections are closed at once, a connection delivering
   * a message closes once it is done. Call it after the last send (after stopping the worker).
   */
  close(): void;
}

/**
 * A delivery failed. The message is a short summary (error code and server reply) with every
 * credential removed, so it may be stored in `mail_outbox.last_error` and logged. The original
 * error is deliberately not attached as `cause`: it may quote the credentials.
 */
export class MailDeliveryError extends Error {
  readonly code = 'ERR_MAIL_DELIVERY';
  /** The server rejected the message with a 5xx reply (503 aside): retrying the same message will likely fail again. */
  readonly permanent: boolean;
  constructor(message: string, permanent: boolean) {
    super(message);
    this.name = 'MailDeliveryError';
    this.permanent = permanent;
  }
}

/** Options of {@link createMailer}. */
export interface MailerConfig {
  /** `smtp://` or `smtps://` URL, credentials included. Unset: each message becomes a `.eml` file. */
  smtpUrl?: string;
  /** Sender address, e.g. `mcp-elevate <no-reply@example.com>`. */
  mailFrom: string;
  /** Data folder; files are written to `dataDir/mail`. */
  dataDir: string;
  /**
   * Upper bound of one SMTP delivery in ms, waiting for a pooled connection included, after
   * which it is aborted. Keep it below the outbox worker's lease so that a slow server cannot
   * make a message look abandoned. Default 20 000.
   */
  sendTimeoutMs?: number;
  /** Most SMTP connections open at once; also how many messages are sent at once. Default 5. */
  maxConnections?: number;
  /** Messages sent over one SMTP connection before it is replaced by a fresh one. Default 100. */
  maxMessages?: number;
}

/**
 * Creates the mailer of ARCHITECTURE.md §2/§6: SMTP through a pool of nodemailer connections when
 * `smtpUrl` is set (short connection, greeting and socket timeouts, so that an outage fails fast
 * and the outbox retries later); else an RFC 822 `.eml` file per message under `dataDir/mail`,
 * with the message's links logged so that a developer can click through without a mail server.
 *
 * @throws TypeError when `maxConnections` or `maxMessages` is not an integer ≥ 1.
 */
export function createMailer(config: MailerConfig, log: Logger): Mailer {
  return config.smtpUrl ? smtpMailer(config, config.smtpUrl) : fileMailer(config, log);
}

function smtpMailer(config: MailerConfig, smtpUrl: string): Mailer {
  const maxConnections = config.maxConnections ?? 5;
  const maxMessages = config.maxMessages ?? 100;
  if (![maxConnections, maxMessages].every((n) => Number.isInteger(n) && n >= 1))
    throw new TypeError('createMailer: maxConnections and maxMessages must be integers ≥ 1');
  const redact = credentialRedactor(urlCredentials(smtpUrl));
  const options: SMTPPool.Options & { idleTimeout: number } = {
    url: smtpUrl,
    // A session costs a TCP (and TLS) handshake and the server's greeting, often longer than the
    // message itself: keep a few open and send one message after another over each.
    pool: true,
    maxConnections,
    maxMessages,
    // An idle connection is ended politely (QUIT) before the socket timeout below would cut it.
    idleTimeout: DEFAULTS.smtpIdleTimeoutMs,
    // nodemailer's defaults (2 min to connect, 10 min idle) would hold a worker for minutes
    // during an outage; a few seconds tell a dead server from a slow one.
    connectionTimeout: DEFAULTS.smtpConnectionTimeoutMs,
    greetingTimeout: DEFAULTS.smtpGreetingTimeoutMs,
    socketTimeout: DEFAULTS.smtpSocketTimeoutMs,
    dnsTimeout: DEFAULTS.smtpDnsTimeoutMs,
  };
  const transport = nodemailer.createTransport(options, { from: config.mailFrom });
  const domain = senderDomain(config.mailFrom);
  const timeout = config.sendTimeoutMs ?? DEFAULTS.mailSendTimeoutMs;
  return {
    concurrency: maxConnections,
    async send(msg) {
      try {
        await transport.sendMail({
          to: msg.to,
          subject: msg.subject,
          text: msg.text,
          ...(msg.html !== undefined ? { html: msg.html } : {}),
          messageId: messageId(msg.id, domain),
          // Counts the wait for a free pooled connection too: the whole send stays within the bound.
          signal: AbortSignal.timeout(timeout),
        });
      } catch (err) {
        throw deliveryError(err, redact);
      }
    },
    close: () => transport.close(),
  };
}

function fileMailer(config: MailerConfig, log: Logger): Mailer {
  const dir = join(config.dataDir, 'mail');
  // streamTransport + buffer: nodemailer composes the full MIME message and hands it back as bytes.
  const composer = nodemailer.createTransport(
    { streamTransport: true, buffer: true, newline: 'windows' },
    { from: config.mailFrom },
  );
  const domain = senderDomain(config.mailFrom);
  return {
    async send(msg) {
      try {
        const id = msg.id ?? randomBytes(8).toString('hex');
        const info = await composer.sendMail({
          to: msg.to,
          subject: msg.subject,
          text: msg.text,
          ...(msg.html !== undefined ? { html: msg.html } : {}),
          messageId: messageId(id, domain),
        });
        await mkdir(dir, { recursive: true });
        const name = `${new Date().toISOString().replace(/[:.]/g, '-')}-${id.replace(/[^\w.-]/g, '_')}.eml`;
        const file = join(dir, name);
        // Written to a hidden name, then renamed: whoever reads *.eml never sees half a message.
        await writeFile(join(dir, `.${name}.tmp`), info.message as Buffer, { mode: 0o600 });
        await rename(join(dir, `.${name}.tmp`), file);
        log.info(
          { file, to: msg.to, links: linksForLog(msg.text) },
          'mail written to file (SMTP_URL unset)',
        );
      } catch (err) {
        throw deliveryError(err, redactUrls);
      }
    },
    close: () => composer.close(),
  };
}

function deliveryError(err: unknown, redact: (text: string) => string): MailDeliveryError {
  const e = (typeof err === 'object' && err !== null ? err : {}) as {
    code?: unknown;
    name?: unknown;
    message?: unknown;
    responseCode?: unknown;
  };
  const code = typeof e.code === 'string' ? e.code : typeof e.name === 'string' ? e.name : 'Error';
  const message = typeof e.message === 'string' ? e.message : String(err);
  return new MailDeliveryError(redact(`${code}: ${message}`), isPermanentReply(e.responseCode));
}

/**
 * A 5xx reply refuses the message itself (RFC 5321 §4.2.1), except 503 "bad sequence of
 * commands": that one blames the session (a reused connection in the wrong state), which a new
 * attempt over another connection does not share.
 */
function isPermanentReply(code: unknown): boolean {
  return typeof code === 'number' && code >= 500 && code < 600 && code !== 503;
}

function urlCredentials(url: string): { user?: string; pass?: string } {
  try {
    const u = new URL(url);
    return { user: u.username, pass: u.password };
  } catch {
    // env.ts validated the scheme; an unparsable rest leaves nothing to redact that we could find.
    return {};
  }
}

function senderDomain(from: string): string {
  return /@([^\s>]+)/.exec(from)?.[1] ?? 'localhost';
}

function messageId(id: string | undefined, domain: string): string {
  return `<${(id ?? randomBytes(8).toString('hex')).replace(/[^\w.-]/g, '_')}.mcp-elevate@${domain}>`;
}
