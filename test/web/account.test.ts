import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { databaseKinds } from '../helpers/databases.ts';
import { expectAccessible } from '../helpers/axe.ts';
import { ticketStatus } from '../approvals/fixture.ts';
import {
  AGENT_NAME,
  PASSWORD,
  PRODUCTION,
  XSS,
  screenshot,
  startAccountWorld,
  type AccountWorld,
} from './account-fixture.ts';

const CHROMIUM = '/usr/bin/chromium';
// Skipped only where no browser is installed and nobody insists on one (CI sets REQUIRE_BROWSER).
const skip = !existsSync(CHROMIUM) && !process.env.REQUIRE_BROWSER;
/** A zone far from UTC, so localised times differ from the server's UTC text. */
const ZONE = 'Asia/Tokyo';

describe.skipIf(skip).each(databaseKinds())('the account page in Chromium (%s)', (kind) => {
  let w: AccountWorld;
  let browser: Browser;
  const dialogs: string[] = [];

  beforeAll(async () => {
    w = await startAccountWorld(kind);
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    });
  }, 180_000);
  afterAll(async () => {
    await browser?.close();
    await w?.t.close();
  });

  /** A fresh browser context signed in as `email` at /account. */
  async function signedIn(
    email: string,
    options: { javaScriptEnabled?: boolean } = {},
  ): Promise<{ context: BrowserContext; page: Page }> {
    const context = await browser.newContext({ timezoneId: ZONE, locale: 'en-US', ...options });
    const page = await context.newPage();
    page.on('dialog', (d) => {
      dialogs.push(d.message());
      void d.dismiss();
    });
    await page.goto(`${w.t.url}/account`);
    expect(new URL(page.url()).pathname).toBe('/login');
    expect(new URL(page.url()).searchParams.get('next')).toBe('/account');
    await page.locator('#email').fill(email);
    await page.locator('#password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(`${w.t.url}/account`);
    return { context, page };
  }

  it(
    'shows every section with real data, escaped, with times in the viewer zone and UTC on hover',
    { timeout: 90_000 },
    async () => {
      const { context, page } = await signedIn('dev@example.com');
      const live = page.locator(`[data-elevation="${w.dev.elevation}"]`);
      await expect.poll(() => live.count()).toBe(1);
      const row = await live.innerText();
      expect(row).toContain('mcp:deploy:staging');
      expect(row).toContain('http://localhost:4000/mcp');
      expect(row).toContain(AGENT_NAME);
      expect(await live.locator('.time-left').innerText()).toMatch(/^(59|60) minutes left|^1 hour/);

      const pending = page.locator(`#pending [data-ticket="${w.dev.pending}"]`);
      expect(await pending.innerText()).toContain(PRODUCTION);
      expect(await pending.locator('.justification').innerText()).toBe(XSS);
      expect(await pending.getByRole('button', { name: /^Cancel/ }).count()).toBe(1);

      const denied = page.locator(`#history [data-ticket="${w.dev.denied}"]`);
      expect(await denied.locator('[data-status]').getAttribute('data-status')).toBe('denied');
      const decision = await denied.locator('.decisions').innerText();
      expect(decision).toContain('denied by Lee Lead <lead@example.com>');
      expect(decision).toContain('Not during the <b>freeze</b>');

      const agent = page.locator('#agents [data-agent="agent"]');
      expect(await agent.innerText()).toContain(AGENT_NAME);
      expect(await agent.innerText()).toContain('mcp:tools:read');
      expect(await page.locator('#passkeys a').getAttribute('href')).toBe('/approvals/passkeys');

      // Nobody else's items.
      const html = await page.content();
      for (const id of [w.other.elevation, w.other.pending, w.other.denied])
        expect(html).not.toContain(id);
      // Markup in names and justifications is text: no script ran, no element was made from it.
      expect(dialogs).toEqual([]);
      expect(await page.locator('#pending script, #pending img').count()).toBe(0);

      // Times: the local zone's text, the UTC text on hover.
      const time = pending.locator('time');
      const iso = (await time.getAttribute('datetime'))!;
      expect(await time.getAttribute('title')).toBe(`${iso.slice(0, 10)} ${iso.slice(11, 16)} UTC`);
      const local = new Intl.DateTimeFormat('en-US', {
        year: 'numeric',
        month: 'short',
        day: 'numeric',
        hour: '2-digit',
        minute: '2-digit',
        timeZoneName: 'short',
        timeZone: ZONE,
      }).format(new Date(iso));
      await expect.poll(() => time.innerText()).toBe(local);
      expect(local).not.toContain('UTC');

      await screenshot(page, `account-${kind}`);
      await expectAccessible(page);
      await context.close();
    },
  );

  it(
    'works without JavaScript: times stay in UTC and Cancel is a plain form with a notice after it',
    { timeout: 60_000 },
    async () => {
      const { context, page } = await signedIn('outsider@example.com', {
        javaScriptEnabled: false,
      });
      const pending = page.locator(`#pending [data-ticket="${w.other.pending}"]`);
      expect(await pending.locator('time').innerText()).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d UTC$/);
      await pending.getByRole('button', { name: /^Cancel/ }).click();
      await page.waitForURL(/done=cancelled/);
      expect(await page.locator('#notice').innerText()).toBe('The request was cancelled.');
      expect(await ticketStatus(w.t, w.other.pending)).toBe('cancelled');
      expect(
        await page
          .locator(`#history [data-ticket="${w.other.pending}"] [data-status]`)
          .getAttribute('data-status'),
      ).toBe('cancelled');
      await screenshot(page, `account-no-js-${kind}`);
      await context.close();
    },
  );

  it(
    'the home, sign-in and account pages have no serious or critical accessibility violations',
    { timeout: 120_000 },
    async () => {
      const context = await browser.newContext();
      const page = await context.newPage();
      await page.goto(`${w.t.url}/`);
      await expectAccessible(page);
      await screenshot(page, `home-${kind}`);
      await page.goto(`${w.t.url}/login`);
      await expectAccessible(page);
      await screenshot(page, `login-${kind}`);
      await context.close();
      // An account page with nothing in it yet.
      const empty = await signedIn('sre@example.com');
      expect(await empty.page.locator('#elevations').innerText()).toContain('no live elevations');
      await expectAccessible(empty.page);
      await empty.context.close();
    },
  );
});
