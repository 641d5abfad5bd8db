import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { databaseKinds } from '../helpers/databases.ts';
import { createMailer, type Mailer } from '../../src/mail/mailer.ts';
import { enqueueMail, outboxDepth } from '../../src/mail/outbox.ts';
import { startOutboxWorker, type OutboxWorker } from '../../src/mail/worker.ts';
import { captureLog, onlyRow, openTestDb, waitFor, type OutboxTestDb } from './helpers/env.ts';
import { startSmtpServer, type TestSmtpServer } from '../helpers/smtp.ts';

const LINK = 'http://localhost:3000/approvals/tkt_0123456789';

describe.each(databaseKinds())('mail outbox delivery over SMTP (%s)', (kind) => {
  let t: OutboxTestDb;
  let smtp: TestSmtpServer;
  let mailer: Mailer;
  let worker: OutboxWorker | undefined;

  beforeEach(async () => {
    t = await openTestDb(kind);
    smtp = await startSmtpServer();
    mailer = createMailer(
      {
        smtpUrl: `smtp://127.0.0.1:${smtp.port}`,
        mailFrom: 'mcp-elevate <no-reply@example.test>',
        dataDir: ':unused:',
      },
      captureLog().log,
    );
  });
  afterEach(async () => {
    await worker?.stop();
    worker = undefined;
    mailer.close();
    await smtp.close();
    await t.close();
  });

  it('never sends a message whose transaction rolled back, and sends a committed one once with its To, Subject and bodies', async () => {
    await expect(
      t.db.transaction().execute(async (trx) => {
        await enqueueMail(trx, {
          to: 'ghost@example.test',
          subject: 'rolled back',
          text: 'must never arrive',
        });
        throw new Error('business change failed');
      }),
    ).rejects.toThrow('business change failed');
    await t.db.transaction().execute(async (trx) => {
      await enqueueMail(trx, {
        to: 'approver@example.test',
        subject: 'Approval needed: deploy → production',
        text: `Alice asks to deploy checkout v1.4.2 to production.\n\nReview it: ${LINK}\n`,
        html: `<p>Review it: <a href="${LINK}">${LINK}</a></p>`,
      });
    });
    worker = startOutboxWorker({ db: t.db, mailer, log: captureLog().log, pollMs: 20 });
    await waitFor(() => smtp.received.length >= 1, 20_000, 'the committed message');
    await worker.drain();

    expect(smtp.received).toHaveLength(1);
    const [mail] = smtp.received;
    expect(mail!.rcptTo).toEqual(['approver@example.test']);
    expect(mail!.to).toMatchObject({ text: 'approver@example.test' });
    expect(mail!.subject).toBe('Approval needed: deploy → production');
    expect(mail!.from?.value).toEqual([{ name: 'mcp-elevate', address: 'no-reply@example.test' }]);
    expect(mail!.text).toBe(
      `Alice asks to deploy checkout v1.4.2 to production.\n\nReview it: ${LINK}\n`,
    );
    expect(mail!.html).toContain(`href="${LINK}"`);
    const row = await onlyRow(t.db);
    expect(row.sent_at).toBeInstanceOf(Date);
    expect(row.attempts).toBe(0);
    expect(row.locked_until).toBeNull();
    expect(await outboxDepth(t.db)).toBe(0);
  });

  it('delivers well under a second after commit when kicked, even with a long poll interval', async () => {
    worker = startOutboxWorker({ db: t.db, mailer, log: captureLog().log, pollMs: 60_000 });
    await worker.drain(); // the worker is idle, waiting out its poll interval
    await t.db
      .transaction()
      .execute((trx) =>
        enqueueMail(trx, { to: 'a@example.test', subject: 'prompt', text: 'hello' }),
      );
    const committedAt = Date.now();
    worker.kick();
    await waitFor(() => smtp.received.length === 1, 2_000, 'the kicked message');
    expect(Date.now() - committedAt).toBeLessThan(1_000);
  });

  it('queues a message once per dedupe key, so re-queueing the same logical message sends one mail', async () => {
    const msg = {
      to: 'b@example.test',
      subject: 'ticket tkt_1 needs you',
      text: 'once',
      dedupeKey: 'ticket:tkt_1:approver:u1',
    };
    expect(await t.db.transaction().execute((trx) => enqueueMail(trx, msg))).toBe(true);
    expect(await enqueueMail(t.db, msg)).toBe(false);
    expect(await enqueueMail(t.db, { ...msg, dedupeKey: 'ticket:tkt_1:approver:u2' })).toBe(true);
    expect(await outboxDepth(t.db)).toBe(2);
    worker = startOutboxWorker({ db: t.db, mailer, log: captureLog().log, pollMs: 20 });
    await waitFor(() => smtp.received.length >= 2, 20_000, 'two messages');
    await worker.drain();
    expect(smtp.received).toHaveLength(2);
    expect(await outboxDepth(t.db)).toBe(0);
  });

  it('refuses to queue a message without a single recipient address', async () => {
    await expect(
      enqueueMail(t.db, { to: 'not an address', subject: 's', text: 't' }),
    ).rejects.toThrow(TypeError);
    await expect(
      enqueueMail(t.db, { to: 'a@x.test, b@x.test', subject: 's', text: 't' }),
    ).rejects.toThrow(TypeError);
    expect(await outboxDepth(t.db)).toBe(0);
  });
});
