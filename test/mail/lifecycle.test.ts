import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { databaseKinds } from '../helpers/databases.ts';
import { MailDeliveryError, type Mailer, type OutgoingMail } from '../../src/mail/mailer.ts';
import { enqueueMail, outboxDepth } from '../../src/mail/outbox.ts';
import { startOutboxWorker } from '../../src/mail/worker.ts';
import { captureLog, openTestDb, waitFor, type OutboxTestDb } from './helpers/env.ts';

/** A mailer whose sends the test completes by hand. */
function manualMailer() {
  const pending: Array<{ msg: OutgoingMail; finish: (err?: Error) => void }> = [];
  const mailer: Mailer = {
    send: (msg) =>
      new Promise<void>((resolve, reject) =>
        pending.push({ msg, finish: (err) => (err ? reject(err) : resolve()) }),
      ),
    close: () => {},
  };
  return { mailer, pending };
}

describe.each(databaseKinds())('outbox worker lifecycle (%s)', (kind) => {
  let t: OutboxTestDb;
  beforeEach(async () => {
    t = await openTestDb(kind);
  });
  afterEach(async () => t.close());

  it('on stop finishes the send in flight, then gives back the leases of the rest of its batch', async () => {
    for (const n of [1, 2, 3])
      await enqueueMail(t.db, { to: `u${n}@example.test`, subject: `m${n}`, text: 'x' });
    const { mailer, pending } = manualMailer();
    const worker = startOutboxWorker({ db: t.db, mailer, log: captureLog().log, pollMs: 10 });
    await waitFor(() => pending.length === 1, 20_000, 'the first send');
    let stopped = false;
    const stopping = worker.stop().then(() => (stopped = true));
    await new Promise((r) => setTimeout(r, 100));
    expect(stopped).toBe(false); // still waiting for the send in flight
    pending[0]!.finish();
    await stopping;

    expect(pending).toHaveLength(1);
    const rows = await t.db
      .selectFrom('mail_outbox')
      .select(['subject', 'sent_at', 'locked_until'])
      .orderBy('id')
      .execute();
    expect(rows.map((r) => [r.subject, r.sent_at !== null, r.locked_until])).toEqual([
      ['m1', true, null],
      ['m2', false, null],
      ['m3', false, null],
    ]);
    expect(await outboxDepth(t.db)).toBe(2);
  });

  it('parks a message the server keeps rejecting permanently after maxAttempts, but never one that failed for an outage', async () => {
    await enqueueMail(t.db, { to: 'gone@example.test', subject: 'rejected', text: 'x' });
    await enqueueMail(t.db, { to: 'later@example.test', subject: 'outage', text: 'x' });
    const mailer: Mailer = {
      send: async (m) => {
        throw new MailDeliveryError(
          m.subject === 'rejected'
            ? 'EENVELOPE: 550 no such user'
            : 'ECONNECTION: connection refused',
          m.subject === 'rejected',
        );
      },
      close: () => {},
    };
    const log = captureLog();
    const worker = startOutboxWorker({
      db: t.db,
      mailer,
      log: log.log,
      pollMs: 5,
      maxAttempts: 3,
      retryBaseMs: 5,
      retryMaxMs: 20,
    });
    await waitFor(
      async () => {
        const rows = await t.db
          .selectFrom('mail_outbox')
          .select(['subject', 'attempts', 'failed_at'])
          .execute();
        return (
          rows.find((r) => r.subject === 'rejected')?.failed_at &&
          rows.find((r) => r.subject === 'outage')!.attempts >= 5
        );
      },
      20_000,
      'the rejected message parked and the other retried beyond maxAttempts',
    );
    await worker.stop();
    const rows = await t.db.selectFrom('mail_outbox').selectAll().orderBy('id').execute();
    expect(rows[0]).toMatchObject({ attempts: 3, last_error: 'EENVELOPE: 550 no such user' });
    expect(rows[1]!.failed_at).toBeNull();
    expect(await outboxDepth(t.db)).toBe(1);
    expect(
      log
        .lines()
        .some((l) => l.msg === 'mail given up: the server keeps rejecting it' && l.level === 50),
    ).toBe(true);
  });
});
