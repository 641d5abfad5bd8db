import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser, type Page } from 'playwright-core';
import { databaseKinds } from '../helpers/databases.ts';
import {
  CHROMIUM,
  CHROMIUM_ARGS,
  XSS,
  openConsole,
  screenshot,
  startConsoleCast,
  type ConsoleCast,
} from './console-fixture.ts';
import { expectAccessible } from './console-axe.ts';

const skip = !existsSync(CHROMIUM) && !process.env.REQUIRE_BROWSER;

describe.skipIf(skip).each(databaseKinds())('admin console in Chromium (%s)', (kind) => {
  let c: ConsoleCast;
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    c = await startConsoleCast(kind);
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    page = await openConsole(c, browser, 'admin@example.com');
  }, 180_000);
  afterAll(async () => {
    await browser?.close();
    await c?.t.close();
  });

  it('an admin without a live mcp:admin elevation goes through consent and approval, then sees the console', async () => {
    expect(new URL(page.url()).pathname).toBe('/console/users');
    const elevation = await c.t.server.db.db
      .selectFrom('elevation')
      .selectAll()
      .where('subject', '=', c.admin)
      .executeTakeFirstOrThrow();
    expect(elevation.scopes).toEqual(['mcp:admin']);
    expect(elevation.ticket_id).not.toBeNull();
    expect(await page.locator('#users').innerText()).toContain('dev@example.com');
    await screenshot(page, 'users');
  });

  it('a user name with markup is shown as text and runs nothing', async () => {
    let dialogs = 0;
    page.on('dialog', (d) => {
      dialogs++;
      void d.dismiss();
    });
    await page.goto(`${c.t.url}/console/users`);
    expect(await page.locator('#users .name', { hasText: '<script>' }).innerText()).toBe(XSS);
    expect(await page.locator('#users img').count()).toBe(0);
    await page.goto(`${c.t.url}/console/users/${c.dev}`);
    expect(await page.locator('#user-name').innerText()).toBe(XSS);
    expect(dialogs).toBe(0);
  });

  it('every console page passes axe without serious or critical violations', async () => {
    // axe runs as a script: a context with JavaScript, signed in with the same cookies.
    const context = await browser.newContext({ storageState: await page.context().storageState() });
    const axePage = await context.newPage();
    for (const [name, path] of [
      ['users', '/console/users'],
      ['user', `/console/users/${c.dev}`],
      ['roles', '/console/roles'],
      ['role', '/console/roles/developer'],
      ['elevations', '/console/elevations'],
    ] as const) {
      await axePage.goto(`${c.t.url}${path}`);
      expect(new URL(axePage.url()).pathname).toBe(path);
      await expectAccessible(axePage);
      await screenshot(axePage, name);
    }
    await context.close();
  }, 60_000);
});
