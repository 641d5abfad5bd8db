import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { simpleParser } from 'mailparser';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { databaseKinds } from '../helpers/databases.ts';
import { createMailer, type Mailer } from '../../src/mail/mailer.ts';
import { enqueueMail } from '../../src/mail/outbox.ts';
import { startOutboxWorker, type OutboxWorker } from '../../src/mail/worker.ts';
import { captureLog, onlyRow, openTestDb, waitFor, type OutboxTestDb } from './helpers/env.ts';

const LINK = 'http://localhost:3000/approvals/tkt_abc123';

describe.each(databaseKinds())('mail without SMTP_URL goes to DATA_DIR/mail (%s)', (kind) => {
  let t: OutboxTestDb;
  let dataDir: string;
  let mailer: Mailer;
  let worker: OutboxWorker | undefined;
  let logged: ReturnType<typeof captureLog>;

  beforeEach(async () => {
    t = await openTestDb(kind);
    dataDir = await mkdtemp(join(tmpdir(), 'mcpe-mail-'));
    logged = captureLog();
    mailer = createMailer({ mailFrom: 'mcp-elevate <no-reply@localhost>', dataDir }, logged.log);
  });
  afterEach(async () => {
    await worker?.stop();
    worker = undefined;
    mailer.close();
    await t.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('writes each message as a parseable .eml file with the link in its body, and logs the link', async () => {
    await t.db.transaction().execute((trx) =>
      enqueueMail(trx, {
        to: 'approver@example.test',
        subject: 'Approval needed: rollback café-api',
        text: `A rollback of café-api waits for you.\n\nOpen ${LINK} to decide.\n`,
        html: `<p>Open <a href="${LINK}">the ticket</a> to decide.</p>`,
      }),
    );
    worker = startOutboxWorker({ db: t.db, mailer, log: captureLog().log, pollMs: 20 });
    const files = await waitFor(
      async () => {
        const names = (await readdir(join(dataDir, 'mail')).catch(() => [])).filter((n) =>
          n.endsWith('.eml'),
        );
        return names.length > 0 ? names : undefined;
      },
      20_000,
      'an .eml file',
    );
    await worker.drain();

    expect(files).toHaveLength(1);
    expect(files[0]).toMatch(/^\d{4}-\d{2}-\d{2}T[\d-]+Z-[\w.-]+\.eml$/);
    const path = join(dataDir, 'mail', files[0]!);
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    const raw = await readFile(path, 'utf8');
    expect(raw).toContain('\r\n'); // RFC 5322 line endings
    const mail = await simpleParser(raw);
    expect(mail.to).toMatchObject({ text: 'approver@example.test' });
    expect(mail.subject).toBe('Approval needed: rollback café-api');
    expect(mail.messageId).toMatch(/^<.+@localhost>$/);
    expect(mail.text).toContain(`Open ${LINK} to decide.`);
    expect(mail.html).toContain(`href="${LINK}"`);
    expect((await onlyRow(t.db)).sent_at).toBeInstanceOf(Date);

    const line = logged.lines().find((l) => l.msg === 'mail written to file (SMTP_URL unset)');
    expect(line).toMatchObject({ to: 'approver@example.test', links: [LINK], file: path });
    expect(logged.text()).not.toContain('waits for you'); // the body itself is not logged
  });

  it('masks secret-looking link parameters in the log but keeps them in the file', async () => {
    const reset = 'http://localhost:3000/reset?token=s3cr3t-reset-token&lang=en';
    await enqueueMail(t.db, {
      to: 'user@example.test',
      subject: 'Reset',
      text: `Reset here: ${reset}.`,
    });
    worker = startOutboxWorker({ db: t.db, mailer, log: captureLog().log, pollMs: 20 });
    await waitFor(async () => (await onlyRow(t.db)).sent_at, 20_000, 'the file mailer');
    const [file] = (await readdir(join(dataDir, 'mail'))).filter((n) => n.endsWith('.eml'));
    const mail = await simpleParser(await readFile(join(dataDir, 'mail', file!), 'utf8'));
    expect(mail.text).toContain(reset);
    expect(logged.text()).not.toContain('s3cr3t-reset-token');
    const line = logged.lines().find((l) => l.msg === 'mail written to file (SMTP_URL unset)');
    expect(line?.links).toEqual(['http://localhost:3000/reset?token=***&lang=en']);
  });
});
