import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser, type Page } from 'playwright-core';
import { databaseKinds } from '../helpers/databases.ts';
import {
  PASSWORD,
  PRODUCTION,
  elevationCount,
  openTicket,
  startWithCast,
  ticketStatus,
  type Cast,
} from './fixture.ts';

const CHROMIUM = '/usr/bin/chromium';
// Skipped only where no browser is installed and nobody insists on one (CI sets REQUIRE_BROWSER).
const skip = !existsSync(CHROMIUM) && !process.env.REQUIRE_BROWSER;
const XSS = '<script>alert(1)</script><img src=x onerror=alert(2)>';

describe.skipIf(skip).each(databaseKinds())('approval pages in Chromium (%s)', (kind) => {
  let c: Cast;
  let browser: Browser;

  beforeAll(async () => {
    c = await startWithCast(kind);
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    });
  });
  afterAll(async () => {
    await browser?.close();
    await c?.t.close();
  });

  async function signInOnPage(page: Page, email: string): Promise<void> {
    await page.locator('#email').fill(email);
    await page.locator('#password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
  }

  it('an approver without JavaScript signs in, reviews everything the ticket says and approves it', async () => {
    const ticket = await openTicket(c.t, c.requester, 'Roll out fix for INC-42 to production', {
      tool: 'deploy_service',
      argumentsSha256: 'a'.repeat(64),
    });
    // JavaScript off: the whole flow is plain links, forms and redirects.
    const context = await browser.newContext({ javaScriptEnabled: false });
    const page = await context.newPage();
    await page.goto(`${c.t.url}/approvals/${ticket.id}`);
    expect(new URL(page.url()).pathname).toBe('/login');
    await signInOnPage(page, 'lead@example.com');
    await page.waitForURL(`${c.t.url}/approvals/${ticket.id}`);

    await expect
      .poll(() => page.locator('#requester').innerText())
      .toBe('Dana Developer <dev@example.com>');
    expect(await page.locator('#agent').innerText()).toBe('agent');
    const scopes = await page.locator('#scopes').innerText();
    expect(scopes).toContain(PRODUCTION);
    expect(scopes).toContain('Deploy services to production and roll deployments back.');
    expect(scopes).toContain('30 minutes');
    expect(scopes).toMatch(/0 of 1/);
    expect(await page.locator('#justification').innerText()).toBe(
      'Roll out fix for INC-42 to production',
    );
    expect(await page.locator('#tool-call').innerText()).toContain('deploy_service');
    expect(await page.locator('#time-left').innerText()).toMatch(/^1[0-5] minutes left/);
    await mkdir('test-artifacts', { recursive: true });
    await page.screenshot({ path: 'test-artifacts/approval-page.png', fullPage: true });

    await page.locator('#comment').fill('Checked the incident, go ahead.');
    await page.getByRole('button', { name: 'Approve' }).click();
    await page.waitForURL(/done=approve$/);
    expect(await page.locator('#notice').innerText()).toBe('You approved this request.');
    expect(await page.locator('#outcome').getAttribute('data-status')).toBe('approved');
    expect(await page.locator('#decisions').innerText()).toContain(
      'Checked the incident, go ahead.',
    );
    expect(await page.locator('#decide').count()).toBe(0);
    expect(await ticketStatus(c.t, ticket.id)).toBe('approved');
    expect(await elevationCount(c.t, ticket.id)).toBe(1);
    await context.close();
  });

  it('a justification carrying script and markup shows as literal text and runs nothing', async () => {
    const ticket = await openTicket(c.t, c.requester, XSS);
    const context = await browser.newContext();
    const page = await context.newPage();
    const dialogs: string[] = [];
    page.on('dialog', (d) => {
      dialogs.push(d.message());
      void d.dismiss();
    });
    await page.goto(`${c.t.url}/login?next=${encodeURIComponent(`/approvals/${ticket.id}`)}`);
    await signInOnPage(page, 'sre@example.com');
    await page.waitForURL(`${c.t.url}/approvals/${ticket.id}`);
    await page.waitForLoadState('load');
    expect(await page.locator('#justification').innerText()).toBe(XSS);
    expect(await page.locator('#justification script, #justification img').count()).toBe(0);
    expect(await page.getByText(XSS, { exact: true }).isVisible()).toBe(true);
    // Give a broken image's onerror every chance to fire before concluding nothing ran.
    await page.waitForTimeout(300);
    expect(dialogs).toEqual([]);
    await context.close();
  });

  it('signing in from a link with an external `next` lands on the local approval list', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(
      `${c.t.url}/approvals/login?next=${encodeURIComponent('https://evil.example/phish')}`,
    );
    await signInOnPage(page, 'lead@example.com');
    await page.waitForURL(`${c.t.url}/approvals`);
    expect(new URL(page.url()).origin).toBe(c.t.url);
    expect(await page.locator('h1').innerText()).toBe('Pending approvals');
    await context.close();
  });
});
