import { sql } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { databaseKinds } from '../helpers/databases.ts';
import { createMailer, type Mailer } from '../../src/mail/mailer.ts';
import { enqueueMail, outboxDepth } from '../../src/mail/outbox.ts';
import { startOutboxWorker, type OutboxWorker } from '../../src/mail/worker.ts';
import { captureLog, onlyRow, openTestDb, waitFor, type OutboxTestDb } from './helpers/env.ts';
import { freePort, startSmtpServer, type TestSmtpServer } from '../helpers/smtp.ts';

describe.each(databaseKinds())('mail outbox through an SMTP outage (%s)', (kind) => {
  let t: OutboxTestDb;
  let port: number;
  let smtp: TestSmtpServer | undefined;
  const mailers: Mailer[] = [];
  const workers: OutboxWorker[] = [];
  const mailer = () => {
    const m = createMailer(
      {
        smtpUrl: `smtp://127.0.0.1:${port}`,
        mailFrom: 'no-reply@example.test',
        dataDir: ':unused:',
      },
      captureLog().log,
    );
    mailers.push(m);
    return m;
  };
  const worker = (opts: { retryBaseMs?: number } = {}) => {
    const w = startOutboxWorker({
      db: t.db,
      mailer: mailer(),
      log: captureLog().log,
      pollMs: 20,
      ...opts,
    });
    workers.push(w);
    return w;
  };

  beforeEach(async () => {
    t = await openTestDb(kind);
    port = await freePort(); // nothing listens there yet: the SMTP server is down
  });
  afterEach(async () => {
    for (const w of workers.splice(0)) await w.stop();
    for (const m of mailers.splice(0)) m.close();
    await smtp?.close();
    smtp = undefined;
    await t.close();
  });

  it('keeps a message through an outage with growing attempts and backoff, then delivers it exactly once', async () => {
    await t.db.transaction().execute((trx) =>
      enqueueMail(trx, {
        to: 'ops@example.test',
        subject: 'outage survivor',
        text: 'still here',
      }),
    );
    const log = captureLog();
    workers.push(
      startOutboxWorker({ db: t.db, mailer: mailer(), log: log.log, pollMs: 20, retryBaseMs: 200 }),
    );

    // Record each failed attempt as the worker writes it down.
    const nextAttempt = new Map<number, number>();
    await waitFor(
      async () => {
        const row = await onlyRow(t.db);
        if (row.attempts > 0) nextAttempt.set(row.attempts, row.next_attempt_at.getTime());
        return row.attempts >= 4;
      },
      30_000,
      'four failed attempts',
    );
    const row = await onlyRow(t.db);
    expect(row.sent_at).toBeNull();
    expect(row.failed_at).toBeNull();
    expect(row.last_error).toMatch(/ECONNECTION|ECONNREFUSED/);
    expect(await outboxDepth(t.db)).toBe(1);
    const seen = [...nextAttempt.entries()].sort(([a], [b]) => a - b).map(([, at]) => at);
    expect(seen).toEqual([...seen].sort((a, b) => a - b)); // each retry is scheduled later than the last
    // The delay chosen after each failure doubles (±25 % jitter keeps the ranges apart).
    const delays = log
      .lines()
      .filter((l) => l.msg === 'mail delivery failed; will retry')
      .map((l) => l.retryInMs as number);
    expect(delays.length).toBeGreaterThanOrEqual(4);
    expect(delays.slice(0, 4).every((d, i) => d >= 150 * 2 ** i && d <= 250 * 2 ** i)).toBe(true);

    smtp = await startSmtpServer({ port });
    await waitFor(() => smtp!.received.length >= 1, 30_000, 'delivery after the outage');
    await workers[0]!.drain();
    expect(smtp.received.map((m) => m.subject)).toEqual(['outage survivor']);
    expect((await onlyRow(t.db)).sent_at).toBeInstanceOf(Date);
  }, 90_000);

  it('delivers exactly once when the server restarts between attempts (old worker stopped, new one started)', async () => {
    await enqueueMail(t.db, {
      to: 'ops@example.test',
      subject: 'across a restart',
      text: 'persisted in the outbox',
    });
    const first = worker({ retryBaseMs: 100 });
    await waitFor(
      async () => (await onlyRow(t.db)).attempts >= 2,
      20_000,
      'failed attempts before the restart',
    );
    await first.stop();
    const attemptsBefore = (await onlyRow(t.db)).attempts;
    expect((await onlyRow(t.db)).locked_until).toBeNull(); // a stopped worker holds no lease

    smtp = await startSmtpServer({ port });
    const second = worker({ retryBaseMs: 100 });
    await waitFor(() => smtp!.received.length >= 1, 20_000, 'delivery by the new worker');
    await second.drain();
    expect(smtp.received.map((m) => m.subject)).toEqual(['across a restart']);
    const row = await onlyRow(t.db);
    expect(row.sent_at).toBeInstanceOf(Date);
    expect(row.attempts).toBe(attemptsBefore);
  });

  it('leaves a message leased by a crashed instance alone until the lease runs out, then delivers it once', async () => {
    smtp = await startSmtpServer({ port });
    await enqueueMail(t.db, {
      to: 'ops@example.test',
      subject: 'orphaned lease',
      text: 'claimed by a dead instance',
    });
    // What a claim by an instance that died before sending leaves behind.
    await t.db
      .updateTable('mail_outbox')
      .set({ locked_until: sql<Date>`now() + interval '700 milliseconds'` })
      .execute();
    const w = worker();
    await w.drain();
    await new Promise((r) => setTimeout(r, 200));
    expect(smtp.received).toHaveLength(0);
    await waitFor(() => smtp!.received.length >= 1, 20_000, 'delivery after the lease expired');
    await w.drain();
    expect(smtp.received.map((m) => m.subject)).toEqual(['orphaned lease']);
  });
});
