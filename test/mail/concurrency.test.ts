import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { databaseKinds } from '../helpers/databases.ts';
import { createMailer, type Mailer } from '../../src/mail/mailer.ts';
import { enqueueMail, outboxDepth } from '../../src/mail/outbox.ts';
import { startOutboxWorker, type OutboxWorker } from '../../src/mail/worker.ts';
import { captureLog, openTestDb, waitFor, type OutboxTestDb } from './helpers/env.ts';
import { startSmtpServer, type TestSmtpServer } from '../helpers/smtp.ts';

const COUNT = 50;

describe.each(databaseKinds())('two outbox workers on one database (%s)', (kind) => {
  let t: OutboxTestDb;
  let smtp: TestSmtpServer;
  const mailers: Mailer[] = [];
  const workers: OutboxWorker[] = [];

  beforeEach(async () => {
    t = await openTestDb(kind);
    smtp = await startSmtpServer();
  });
  afterEach(async () => {
    for (const w of workers.splice(0)) await w.stop();
    for (const m of mailers.splice(0)) m.close();
    await smtp.close();
    await t.close();
  });

  it(`delivers each of ${COUNT} messages exactly once while both workers compete for them`, async () => {
    await t.db.transaction().execute(async (trx) => {
      for (let i = 0; i < COUNT; i++)
        await enqueueMail(trx, {
          to: `user${i}@example.test`,
          subject: `message #${i}`,
          text: `body ${i}`,
        });
    });
    // As two server instances would be: on PostgreSQL each with its own connection pool.
    const handles = [t.db, await t.secondHandle()];
    const sentBy = [0, 0];
    handles.forEach((db, n) => {
      const real = createMailer(
        {
          smtpUrl: `smtp://127.0.0.1:${smtp.port}`,
          mailFrom: 'no-reply@example.test',
          dataDir: ':unused:',
        },
        captureLog().log,
      );
      mailers.push(real);
      const counting: Mailer = {
        send: async (m) => {
          await real.send(m);
          sentBy[n]!++;
        },
        close: () => real.close(),
      };
      // Small batches, so that the two workers interleave claim after claim.
      workers.push(
        startOutboxWorker({ db, mailer: counting, log: captureLog().log, pollMs: 10, batch: 5 }),
      );
    });
    workers.forEach((w) => w.kick());

    await waitFor(async () => (await outboxDepth(t.db)) === 0, 80_000, 'an empty outbox');
    await Promise.all(workers.map((w) => w.drain()));

    const subjects = smtp.received.map((m) => m.subject).sort();
    expect(subjects).toEqual(Array.from({ length: COUNT }, (_, i) => `message #${i}`).sort());
    expect(new Set(smtp.received.map((m) => m.headers.get('message-id'))).size).toBe(COUNT);
    expect(sentBy[0]! + sentBy[1]!).toBe(COUNT);
    // Both took part, so the test really exercised two claimers against each other.
    expect(sentBy[0]).toBeGreaterThan(0);
    expect(sentBy[1]).toBeGreaterThan(0);
    const unsent = await t.db
      .selectFrom('mail_outbox')
      .select('id')
      .where('sent_at', 'is', null)
      .execute();
    expect(unsent).toEqual([]);
  }, 90_000);
});
