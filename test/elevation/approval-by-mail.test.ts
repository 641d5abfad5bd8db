import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser } from 'playwright-core';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { databaseKinds } from '../helpers/databases.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { RESOURCE, registerAgent, requestElevation, userToken } from '../helpers/agents.ts';
import { pollDecided } from '../helpers/ciba.ts';
import {
  freePort,
  startSmtpServer,
  type ReceivedMail,
  type TestSmtpServer,
} from '../helpers/smtp.ts';

const CHROMIUM = '/usr/bin/chromium';
const skipBrowser = !existsSync(CHROMIUM) && !process.env.REQUIRE_BROWSER;

async function waitForMail(
  smtp: TestSmtpServer,
  to: string,
  timeoutMs = 20_000,
): Promise<ReceivedMail> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const mail = smtp.received.find((m) => m.rcptTo.includes(to));
    if (mail) return mail;
    if (Date.now() > deadline)
      throw new Error(`no mail to ${to}; got ${smtp.received.map((m) => m.rcptTo).join(', ')}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe.skipIf(skipBrowser).each(databaseKinds())(
  'approval of a CIBA elevation by mail and browser (%s)',
  (kind) => {
    let t: TestServer;
    let smtp: TestSmtpServer;
    let browser: Browser;
    beforeAll(async () => {
      smtp = await startSmtpServer();
      t = await startTestServer(kind, {
        SMTP_URL: `smtp://127.0.0.1:${smtp.port}`,
        CIBA_POLL_INTERVAL: '1',
      });
      await t.server.users.create({
        email: 'senior@example.com',
        name: 'Sid Senior',
        password: 'senior password',
        roles: ['senior_developer'],
      });
      await t.server.users.create({
        email: 'lead@example.com',
        name: 'Lee Lead',
        password: 'lead password',
        roles: ['viewer'],
        groups: ['tech-lead'],
      });
      browser = await chromium.launch({
        executablePath: CHROMIUM,
        args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
      });
    });
    afterAll(async () => {
      await browser?.close();
      await t?.close();
      await smtp?.close();
    });

    it('mails the approver a link; approving it in Chromium lets the next poll return an 1800 s token', async () => {
      const agent = await registerAgent(t);
      const user = await userToken(agent, 'senior@example.com', 'senior password');
      const started = await requestElevation(
        agent,
        user.access_token,
        'mcp:deploy:production',
        'Hotfix INC-7 <b>now</b>',
      );

      const mail = await waitForMail(smtp, 'lead@example.com');
      expect(mail.subject).toContain('mcp:deploy:production');
      const link = /(http:\/\/\S+\/approvals\/[0-9a-f-]{36})/.exec(mail.text ?? '')?.[1];
      expect(link).toBeTruthy();
      expect(mail.text).toContain('Hotfix INC-7 <b>now</b>');

      const page = await (await browser.newContext()).newPage();
      await page.goto(link!);
      await page.locator('#email').fill('lead@example.com');
      await page.locator('#password').fill('lead password');
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.waitForURL(link!);
      expect(await page.locator('#justification').innerText()).toBe('Hotfix INC-7 <b>now</b>');
      await mkdir('test-artifacts', { recursive: true });
      await page.screenshot({
        path: `test-artifacts/approval-by-mail-${kind}.png`,
        fullPage: true,
      });
      await page.getByRole('button', { name: 'Approve' }).click();
      await page.waitForURL(/done=approve$/);

      const tokens = await pollDecided(agent, started, {
        resource: RESOURCE,
      });
      const { payload } = await jwtVerify(
        tokens.access_token,
        createRemoteJWKSet(new URL(`${t.url}/jwks`)),
        { issuer: t.url, audience: RESOURCE, typ: 'at+jwt' },
      );
      expect(payload.exp! - payload.iat!).toBe(1800);
      expect(String(payload.scope).split(' ')).toEqual(
        expect.arrayContaining(['mcp:deploy:production', 'mcp:tools:read', 'mcp:resources:read']),
      );
      // The requester hears the outcome.
      expect((await waitForMail(smtp, 'senior@example.com')).subject).toContain('approved');
      // Exactly one request mail to the approver.
      expect(smtp.received.filter((m) => m.rcptTo.includes('lead@example.com'))).toHaveLength(1);
    });
  },
);

describe.each(databaseKinds())('approval mail across an SMTP outage and a restart (%s)', (kind) => {
  it(
    'delivers the approver mail once SMTP is back, though the server restarted in between',
    { timeout: 120_000 },
    async () => {
      const port = await freePort();
      let t = await startTestServer(kind, {
        SMTP_URL: `smtp://127.0.0.1:${port}`,
        CIBA_POLL_INTERVAL: '1',
      });
      let smtp: TestSmtpServer | undefined;
      try {
        await t.server.users.create({
          email: 'senior@example.com',
          password: 'senior password',
          roles: ['senior_developer'],
        });
        await t.server.users.create({
          email: 'sre@example.com',
          password: 'sre password',
          roles: ['viewer'],
          groups: ['sre-oncall'],
        });
        const agent = await registerAgent(t);
        const user = await userToken(agent, 'senior@example.com', 'senior password');
        await requestElevation(agent, user.access_token, 'mcp:deploy:production');
        // SMTP is down: the message waits in the outbox, with at least one failed attempt.
        await expect
          .poll(
            async () =>
              Number(
                (
                  await t.server.db.db
                    .selectFrom('mail_outbox')
                    .select('attempts')
                    .where('to', '=', 'sre@example.com')
                    .executeTakeFirst()
                )?.attempts ?? 0,
              ),
            { timeout: 20_000 },
          )
          .toBeGreaterThan(0);
        t = await t.restart();
        smtp = await startSmtpServer({ port });
        const mail = await waitForMail(smtp, 'sre@example.com', 60_000);
        expect(mail.text).toMatch(/\/approvals\/[0-9a-f-]{36}/);
        await new Promise((r) => setTimeout(r, 1500));
        expect(smtp.received.filter((m) => m.rcptTo.includes('sre@example.com'))).toHaveLength(1);
      } finally {
        await t.close();
        await smtp?.close();
      }
    },
  );
});
