import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { databaseKinds } from '../helpers/databases.ts';
import { createMailer, MailDeliveryError, type Mailer } from '../../src/mail/mailer.ts';
import { enqueueMail, outboxDepth } from '../../src/mail/outbox.ts';
import { startOutboxWorker, type OutboxWorker } from '../../src/mail/worker.ts';
import { captureLog, openTestDb, waitFor, type OutboxTestDb } from './helpers/env.ts';
import {
  smtpReply,
  startSmtpServer,
  type TestSmtpOptions,
  type TestSmtpServer,
} from '../helpers/smtp.ts';

const subjects = (n: number) => Array.from({ length: n }, (_, i) => `message #${i}`);
const sorted = (xs: string[]) => [...xs].sort();

/** A gate the test opens by hand. */
function gate() {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { opened, open };
}

describe.each(databaseKinds())('outbox delivery over pooled SMTP connections (%s)', (kind) => {
  let t: OutboxTestDb;
  let smtp: TestSmtpServer | undefined;
  const mailers: Mailer[] = [];
  const workers: OutboxWorker[] = [];

  const serve = async (opts: TestSmtpOptions = {}) => (smtp = await startSmtpServer(opts));
  const mailer = (maxConnections: number) => {
    const m = createMailer(
      {
        smtpUrl: `smtp://127.0.0.1:${smtp!.port}`,
        mailFrom: 'no-reply@example.test',
        maxConnections,
        dataDir: ':unused:',
      },
      captureLog().log,
    );
    mailers.push(m);
    return m;
  };
  const worker = (
    m: Mailer,
    {
      log = captureLog(),
      ...opts
    }: { batch?: number; retryBaseMs?: number; log?: ReturnType<typeof captureLog> } = {},
  ) => {
    const w = startOutboxWorker({ db: t.db, mailer: m, log: log.log, pollMs: 10, ...opts });
    workers.push(w);
    return w;
  };
  const queue = async (names: string[]) => {
    await t.db.transaction().execute(async (trx) => {
      for (const [i, subject] of names.entries())
        await enqueueMail(trx, {
          to: `user${i}@example.test`,
          subject,
          text: `body of ${subject}`,
        });
    });
  };
  const rows = () =>
    t.db
      .selectFrom('mail_outbox')
      .select(['subject', 'sent_at', 'locked_until', 'attempts', 'last_error'])
      .orderBy('id')
      .execute();

  beforeEach(async () => {
    t = await openTestDb(kind);
  });
  afterEach(async () => {
    for (const w of workers.splice(0)) await w.stop();
    for (const m of mailers.splice(0)) m.close();
    await smtp?.close();
    smtp = undefined;
    await t.close();
  });

  it('delivers a burst over at most maxConnections SMTP sessions, several messages at a time, each exactly once', async () => {
    // Each reply waits a moment, so that sends running side by side overlap at the server.
    const server = await serve({ onMessage: () => new Promise((r) => setTimeout(r, 20)) });
    await queue(subjects(50));
    const w = worker(mailer(3)); // concurrency left to its default: the mailer's pool size
    await waitFor(async () => (await outboxDepth(t.db)) === 0, 60_000, 'an empty outbox');
    await w.drain();

    expect(sorted(server.received.map((m) => m.subject))).toEqual(sorted(subjects(50)));
    expect(new Set(server.received.map((m) => m.messageId)).size).toBe(50);
    expect(server.connections).toBeGreaterThanOrEqual(1);
    expect(server.connections).toBeLessThanOrEqual(3);
    expect(server.maxInData).toBeGreaterThan(1);
    expect(server.maxInData).toBeLessThanOrEqual(3);
    expect(
      (await rows()).every(
        (r) => r.sent_at !== null && r.attempts === 0 && r.locked_until === null,
      ),
    ).toBe(true);
  }, 90_000);

  it('on stop finishes the sends in flight and gives back the rest of the batch, which a new worker then sends once', async () => {
    const release = gate();
    const server = await serve({ onMessage: () => release.opened });
    await queue(subjects(12));
    const first = worker(mailer(4), { batch: 12 });
    await waitFor(() => server.inData === 4, 20_000, 'four sends held by the server');

    let stopped = false;
    const stopping = first.stop().then(() => (stopped = true));
    await new Promise((r) => setTimeout(r, 100));
    expect(stopped).toBe(false); // still waiting for the sends in flight
    release.open();
    await stopping;

    expect(server.received).toHaveLength(4);
    const afterStop = await rows();
    expect(
      afterStop
        .filter((r) => r.sent_at !== null)
        .map((r) => r.subject)
        .sort(),
    ).toEqual(sorted(server.received.map((m) => m.subject)));
    expect(afterStop.every((r) => r.locked_until === null && r.attempts === 0)).toBe(true);
    expect(await outboxDepth(t.db)).toBe(8);

    const second = worker(mailer(4), { batch: 12 });
    await waitFor(() => server.received.length >= 12, 20_000, 'the rest, sent by the new worker');
    await second.drain();
    expect(sorted(server.received.map((m) => m.subject))).toEqual(sorted(subjects(12)));
    expect(new Set(server.received.map((m) => m.messageId)).size).toBe(12);
    expect(await outboxDepth(t.db)).toBe(0);
  }, 60_000);

  it('lets the other messages of a batch through while one waits on a transient failure, then retries that one', async () => {
    const names = ['flaky', ...subjects(9)];
    let refused = 0;
    const server = await serve({
      // The first attempt at "flaky" is answered only once every other message has arrived: a
      // worker that waited for it before sending the rest would never get there.
      onMessage: async (mail) => {
        if (mail.subject !== 'flaky' || refused > 0) return;
        await waitFor(() => server.received.length === 9, 20_000, 'the rest of the batch');
        refused++;
        throw smtpReply(451, 'Mailbox busy, try again later');
      },
    });
    await queue(names);
    const log = captureLog();
    const w = worker(mailer(3), { retryBaseMs: 50, log });
    await waitFor(
      () => server.received.length >= 10,
      30_000,
      'every message, the retried one included',
    );
    await w.drain();

    expect(server.received.map((m) => m.subject).at(-1)).toBe('flaky');
    expect(sorted(server.received.map((m) => m.subject))).toEqual(sorted(names));
    const [flaky, ...others] = await rows();
    expect(flaky).toMatchObject({ subject: 'flaky', attempts: 1, locked_until: null });
    expect(flaky!.sent_at).toBeInstanceOf(Date);
    expect(flaky!.last_error).toMatch(/451 Mailbox busy/);
    expect(
      others.every((r) => r.sent_at !== null && r.attempts === 0 && r.last_error === null),
    ).toBe(true);
    const failures = log.lines().filter((l) => l.msg === 'mail delivery failed; will retry');
    expect(failures).toHaveLength(1);
  }, 60_000);
});

describe('pooled SMTP mailer', () => {
  let smtp: TestSmtpServer | undefined;
  let mailer: Mailer | undefined;
  afterEach(async () => {
    mailer?.close();
    await smtp?.close();
    smtp = mailer = undefined;
  });

  it('tells a refused message (5xx) from a passing refusal (4xx, 503), reusing its connection throughout, and close() ends it', async () => {
    const server = (smtp = await startSmtpServer({
      onMessage: (mail) => {
        const code = /^reply (\d{3})$/.exec(mail.subject)?.[1];
        if (code) throw smtpReply(Number(code), `refused with ${code}`);
      },
    }));
    mailer = createMailer(
      {
        smtpUrl: `smtp://127.0.0.1:${server.port}`,
        mailFrom: 'no-reply@example.test',
        maxConnections: 1,
        dataDir: ':unused:',
      },
      captureLog().log,
    );
    expect(mailer.concurrency).toBe(1);
    const outcome = (subject: string) =>
      mailer!.send({ to: 'a@example.test', subject, text: 'x' }).then(
        () => 'sent',
        (err: unknown) =>
          err instanceof MailDeliveryError ? (err.permanent ? 'permanent' : 'transient') : 'other',
      );

    expect(await outcome('reply 550')).toBe('permanent');
    expect(await outcome('reply 554')).toBe('permanent');
    expect(await outcome('reply 451')).toBe('transient');
    expect(await outcome('reply 503')).toBe('transient');
    expect(await outcome('fine')).toBe('sent');
    expect(await outcome('fine again')).toBe('sent');
    expect(server.received.map((m) => m.subject)).toEqual(['fine', 'fine again']);
    expect(server.connections).toBe(1);

    mailer.close();
    await waitFor(() => server.closed === 1, 10_000, 'the pooled connection closed');
  });

  it('refuses a pool size that is not a positive integer', () => {
    for (const maxConnections of [0, 1.5, Number.NaN]) {
      expect(() =>
        createMailer(
          {
            smtpUrl: 'smtp://127.0.0.1:25',
            mailFrom: 'a@example.test',
            maxConnections,
            dataDir: ':unused:',
          },
          captureLog().log,
        ),
      ).toThrow(TypeError);
    }
  });
});
