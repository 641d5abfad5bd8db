import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { Database } from '../db/schema.ts';
import { backoffDelay, type BackoffOptions } from '../verifier/resilience/backoff.ts';
import { MailDeliveryError, type Mailer } from './mailer.ts';
import {
  claimDueMail,
  markFailed,
  markSent,
  releaseLease,
  renewLease,
  type ClaimedMail,
} from './outbox.ts';
import { redactUrls } from './redact.ts';
import { DEFAULTS } from '../config/defaults.ts';

/** Options of {@link startOutboxWorker}. */
export interface OutboxWorkerOptions {
  db: Kysely<Database>;
  mailer: Mailer;
  log: Logger;
  /** How often to look for due mail when nobody kicks, in ms. Default 500. */
  pollMs?: number;
  /** Messages leased per claim. Default 20. */
  batch?: number;
  /**
   * Messages of a batch being sent at once. Default: the mailer's `concurrency` (the size of its
   * SMTP connection pool), else 1.
   */
  concurrency?: number;
  /**
   * How long a claimed message belongs to this worker, in ms; renewed before each send that did
   * not start right after the claim. Must exceed the mailer's longest send, or a slow send could
   * be repeated by another instance. Default 30 000.
   */
  leaseMs?: number;
  /**
   * Failed attempts after which a message the server keeps rejecting permanently (SMTP 5xx) is
   * parked (`failed_at`). Outages (refused connections, timeouts, 4xx) never park a message: they
   * delay mail, never lose it (ARCHITECTURE.md §6). Default 12.
   */
  maxAttempts?: number;
  /** Delay before the first retry, in ms; doubles per failure, ±25 % jitter. Default 1 000. */
  retryBaseMs?: number;
  /** Longest delay between attempts, in ms. Default 300 000. */
  retryMaxMs?: number;
}

/** A running outbox worker. */
export interface OutboxWorker {
  /** Stops polling, finishes the sends in flight, gives back the leases of the rest; idempotent. */
  stop(): Promise<void>;
  /** Looks for due mail now (call after committing a transaction that queued some). */
  kick(): void;
  /** Resolves once a pass finds no due message (mail being retried later does not count). */
  drain(): Promise<void>;
}

/**
 * Delivers the outbox (ARCHITECTURE.md §6, §8): claims due messages under a lease (several instances
 * never send one message twice), sends them through the mailer `concurrency` at a time, records
 * `sent_at`, or on failure the attempt, a redacted `last_error` and the next attempt after
 * exponential backoff with jitter. It holds no transaction while sending, which also keeps
 * PGlite's single connection free.
 */
export function startOutboxWorker(opts: OutboxWorkerOptions): OutboxWorker {
  const { db, mailer, log } = opts;
  const pollMs = opts.pollMs ?? DEFAULTS.mailPollMs;
  const batch = opts.batch ?? DEFAULTS.mailBatch;
  const concurrency = opts.concurrency ?? mailer.concurrency ?? 1;
  const leaseMs = opts.leaseMs ?? DEFAULTS.mailLeaseMs;
  const maxAttempts = opts.maxAttempts ?? DEFAULTS.mailMaxAttempts;
  // ±25 % jitter, so that messages that failed together (an SMTP outage) do not all come back at once.
  const backoff: BackoffOptions = {
    baseMs: opts.retryBaseMs ?? DEFAULTS.mailRetryBaseMs,
    maxMs: opts.retryMaxMs ?? DEFAULTS.mailRetryMaxMs,
    jitter: [0.75, 1.25],
  };
  if (
    !(pollMs >= 0) ||
    !isCount(batch) ||
    !isCount(concurrency) ||
    !(leaseMs > 0) ||
    !(maxAttempts >= 1)
  ) {
    throw new TypeError(
      'startOutboxWorker: pollMs ≥ 0, integer batch and concurrency ≥ 1, leaseMs > 0 and maxAttempts ≥ 1 are required',
    );
  }

  let running = true;
  let kicked = false;
  let wake: (() => void) | undefined;
  let drains: Array<{ resolve: () => void; reject: (err: unknown) => void }> = [];

  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      if (kicked || !running) return resolve();
      const done = () => {
        clearTimeout(timer);
        wake = undefined;
        resolve();
      };
      // unref: an idle worker alone must not keep a CLI process alive.
      const timer = setTimeout(done, ms);
      timer.unref();
      wake = done;
    });

  /** Sends one leased message and records the outcome; rejects only when the database does. */
  async function deliver(mail: ClaimedMail): Promise<void> {
    try {
      await mailer.send({
        to: mail.to,
        subject: mail.subject,
        text: mail.text,
        ...(mail.html !== null ? { html: mail.html } : {}),
        // Row id plus creation time: stable across retries, distinct across database resets.
        id: `${mail.id}-${mail.createdAt.getTime().toString(36)}`,
      });
    } catch (err) {
      const failures = mail.attempts + 1;
      const error = err instanceof MailDeliveryError ? err.message : redactUrls(describe(err));
      const giveUp = err instanceof MailDeliveryError && err.permanent && failures >= maxAttempts;
      const retryInMs = backoffDelay(failures, backoff);
      await markFailed(db, mail, { error, retryInMs, giveUp });
      if (giveUp)
        log.error(
          { mailId: mail.id, attempts: failures, error },
          'mail given up: the server keeps rejecting it',
        );
      else
        log.warn(
          { mailId: mail.id, attempts: failures, retryInMs, error },
          'mail delivery failed; will retry',
        );
      return;
    }
    if (!(await markSent(db, mail))) {
      log.warn(
        { mailId: mail.id },
        'mail sent after its lease ran out; another instance may send it again',
      );
    }
  }

  /**
   * Claims a batch and sends it over up to `concurrency` lanes, each taking the next message as
   * soon as its previous send is recorded. A failure of one message is recorded and the lane goes
   * on; a database error stops every lane from taking more. Either way the pass returns only once
   * every send it started is finished, and gives back the leases of the messages it never sent.
   */
  async function pass(): Promise<number> {
    const claimed = await claimDueMail(db, batch, leaseMs);
    const lanes = Math.min(concurrency, claimed.length);
    const untouched = new Set(claimed);
    let next = 0;
    let broken: { err: unknown } | undefined;
    const lane = async () => {
      while (running && !broken && next < claimed.length) {
        const i = next++;
        const mail = claimed[i]!;
        try {
          // The first message of each lane goes out on the lease just claimed; a later one waited
          // for earlier sends: make sure its lease is still ours and long enough.
          if (i >= lanes) {
            const lease = await renewLease(db, mail, leaseMs);
            if (!lease) {
              untouched.delete(mail);
              log.warn(
                { mailId: mail.id },
                'outbox lease lost before sending; left to its new owner',
              );
              continue;
            }
            mail.lease = lease;
            if (!running) break;
          }
          untouched.delete(mail);
          await deliver(mail);
        } catch (err) {
          broken ??= { err };
        }
      }
    };
    await Promise.all(Array.from({ length: lanes }, lane));
    try {
      for (const mail of untouched) await releaseLease(db, mail);
    } catch (err) {
      // Unreleased leases only delay those messages until they run out.
      broken ??= { err };
    }
    if (broken) throw broken.err;
    return claimed.length;
  }

  const loop = (async () => {
    while (running) {
      kicked = false;
      const waiting = drains;
      drains = [];
      let claimed: number;
      try {
        claimed = await pass();
        // Only a pass that started after drain() was called and found nothing proves "drained".
        if (claimed === 0) waiting.forEach((d) => d.resolve());
        else drains.unshift(...waiting);
      } catch (err) {
        log.warn({ err }, 'outbox pass failed; retrying after the poll interval');
        waiting.forEach((d) => d.reject(err));
        await sleep(pollMs);
        continue;
      }
      // A full or non-empty batch likely means more is due: go again without waiting.
      if (claimed > 0) continue;
      await sleep(pollMs);
    }
    drains.forEach((d) => d.resolve());
    drains = [];
  })();

  return {
    async stop() {
      running = false;
      wake?.();
      await loop;
    },
    kick() {
      kicked = true;
      wake?.();
    },
    drain() {
      if (!running) return Promise.resolve();
      return new Promise<void>((resolve, reject) => {
        drains.push({ resolve, reject });
        kicked = true;
        wake?.();
      });
    },
  };
}

function isCount(n: number): boolean {
  return Number.isInteger(n) && n >= 1;
}

function describe(err: unknown): string {
  if (err instanceof Error)
    return `${(err as { code?: unknown }).code ?? err.name}: ${err.message}`;
  return String(err);
}
