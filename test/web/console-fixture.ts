import { mkdir } from 'node:fs/promises';
import { expect } from 'vitest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { startTestServer, type TestServer } from '../helpers/server.ts';

/** Everyone's password in the console tests. */
export const PASSWORD = 'console password 1';
export const CHROMIUM = '/usr/bin/chromium';
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
];
/** A name no page may execute. */
export const XSS = '<script>alert(1)</script><img src=x onerror=alert(2)>';

/** A server with the default catalogue (`mcp:admin` approved by the security team) and its people. */
export interface ConsoleCast {
  t: TestServer;
  /** An admin who is not in the security team: needs someone else's approval. */
  admin: string;
  /** An admin in the security team: approves the other's elevation. */
  approver: string;
  /** A developer without the admin role. */
  dev: string;
}

export async function startConsoleCast(kind: 'pglite' | 'postgres'): Promise<ConsoleCast> {
  const t = await startTestServer(kind);
  const create = async (email: string, name: string, roles: string[], groups: string[]) =>
    (await t.server.users.create({ email, name, password: PASSWORD, roles, groups })).id;
  return {
    t,
    admin: await create('admin@example.com', 'Ada Admin', ['admin'], []),
    approver: await create('sec@example.com', 'Sec Team', ['admin'], ['security-team']),
    dev: await create('dev@example.com', XSS, ['developer'], []),
  };
}

/** Fills and sends whichever sign-in form the page shows (the site's or the authorization server's). */
export async function signInOn(page: Page, email: string): Promise<void> {
  await page.locator('#email').fill(email);
  await page.locator('#password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForLoadState();
}

/**
 * Opens the console as `email` in a new context and goes through the whole way in: the site's
 * sign-in, the authorization server's fresh sign-in, consent with a justification, and — when the
 * request waits for approval — the security team's approval. Returns the page on the console.
 */
export async function openConsole(
  c: ConsoleCast,
  browser: Browser,
  email: string,
  opts: { approve?: boolean; context?: BrowserContext } = {},
): Promise<Page> {
  const context = opts.context ?? (await browser.newContext({ javaScriptEnabled: false }));
  const page = await context.newPage();
  await page.goto(`${c.t.url}/console`);
  expect(new URL(page.url()).pathname).toBe('/login');
  await signInOn(page, email);
  await stepUp(c, page, email, opts.approve ?? true);
  return page;
}

/** From the authorization server's pages back to the console: sign-in, consent, approval. */
export async function stepUp(
  c: ConsoleCast,
  page: Page,
  email: string,
  approve = true,
): Promise<void> {
  if (await page.locator('#password').count()) await signInOn(page, email);
  if (await page.locator('#justification').count()) {
    await page.locator('#justification').fill('Console administration');
    await page.getByRole('button', { name: 'Allow' }).click();
    await page.waitForLoadState();
  }
  if (page.url().endsWith('/wait') && approve) {
    const ticket = await c.t.server.db.db
      .selectFrom('elevation_ticket')
      .select('id')
      .where('status', '=', 'pending')
      .orderBy('created_at', 'desc')
      .executeTakeFirstOrThrow();
    await c.t.server.elevation.decide(ticket.id, c.approver, 'approve', 'ok');
    await page.reload();
    await page.waitForURL(/\/console\//);
  }
}

/** Saves `test-results/screenshots/console-<name>.png`. */
export async function screenshot(page: Page, name: string): Promise<void> {
  await mkdir('test-results/screenshots', { recursive: true });
  await page.screenshot({ path: `test-results/screenshots/console-${name}.png`, fullPage: true });
}
