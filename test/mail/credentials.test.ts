import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { databaseKinds } from '../helpers/databases.ts';
import { createMailer, type Mailer } from '../../src/mail/mailer.ts';
import { enqueueMail } from '../../src/mail/outbox.ts';
import { startOutboxWorker, type OutboxWorker } from '../../src/mail/worker.ts';
import { captureLog, onlyRow, openTestDb, waitFor, type OutboxTestDb } from './helpers/env.ts';
import { startSmtpServer, type TestSmtpServer } from '../helpers/smtp.ts';

const PASSWORD = 'secretpw';
// The forms the password travels in on the wire (AUTH PLAIN / AUTH LOGIN).
const WIRE_FORMS = [
  PASSWORD,
  Buffer.from(`\0mailer\0${PASSWORD}`).toString('base64'),
  Buffer.from(PASSWORD).toString('base64'),
];

describe.each(databaseKinds())('SMTP credentials stay out of last_error and logs (%s)', (kind) => {
  let t: OutboxTestDb;
  let smtp: TestSmtpServer;
  let mailer: Mailer;
  let worker: OutboxWorker | undefined;

  beforeEach(async () => {
    t = await openTestDb(kind);
    smtp = await startSmtpServer({ rejectAuth: true });
  });
  afterEach(async () => {
    await worker?.stop();
    worker = undefined;
    mailer.close();
    await smtp.close();
    await t.close();
  });

  it('records a rejected login without the password, even when the server echoes it back', async () => {
    const mailLog = captureLog();
    const workerLog = captureLog();
    mailer = createMailer(
      {
        smtpUrl: `smtp://mailer:${PASSWORD}@127.0.0.1:${smtp.port}`,
        mailFrom: 'no-reply@example.test',
        dataDir: ':unused:',
      },
      mailLog.log,
    );
    await enqueueMail(t.db, { to: 'a@example.test', subject: 'needs auth', text: 'x' });
    worker = startOutboxWorker({
      db: t.db,
      mailer,
      log: workerLog.log,
      pollMs: 20,
      retryBaseMs: 50,
    });
    const row = await waitFor(
      async () => {
        const r = await onlyRow(t.db);
        return r.attempts >= 2 ? r : undefined;
      },
      20_000,
      'rejected logins',
    );

    expect(row.sent_at).toBeNull();
    expect(row.last_error).toMatch(/^EAUTH: Invalid login: 535 /);
    expect(row.last_error).toContain('***');
    expect(row.last_error!.length).toBeLessThanOrEqual(300);
    for (const form of WIRE_FORMS) {
      expect(row.last_error).not.toContain(form);
      expect(workerLog.text()).not.toContain(form);
      expect(mailLog.text()).not.toContain(form);
    }
    expect(smtp.received).toHaveLength(0);
  });

  it('redacts a URL-encoded password in every form', async () => {
    const pass = 'p@ss:w/rd%';
    mailer = createMailer(
      {
        smtpUrl: `smtp://mailer:${encodeURIComponent(pass)}@127.0.0.1:${smtp.port}`,
        mailFrom: 'no-reply@example.test',
        dataDir: ':unused:',
      },
      captureLog().log,
    );
    await enqueueMail(t.db, { to: 'a@example.test', subject: 'needs auth', text: 'x' });
    worker = startOutboxWorker({ db: t.db, mailer, log: captureLog().log, pollMs: 20 });
    const row = await waitFor(
      async () => {
        const r = await onlyRow(t.db);
        return r.attempts >= 1 ? r : undefined;
      },
      20_000,
      'a rejected login',
    );
    expect(row.last_error).toMatch(/^EAUTH: /);
    expect(row.last_error).not.toContain(pass);
    expect(row.last_error).not.toContain(encodeURIComponent(pass));
  });
});
