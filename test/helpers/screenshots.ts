import { mkdir } from 'node:fs/promises';
import type { Page } from 'playwright-core';

/** Where page tests keep their screenshots (ignored by git; CI keeps them as artifacts). */
export const SCREENSHOTS = 'test-results/screenshots';

/** Keeps a full-page screenshot of `page` as a test artifact: `test-results/screenshots/<name>.png`. */
export async function screenshot(page: Page, name: string): Promise<void> {
  await mkdir(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: `${SCREENSHOTS}/${name}.png`, fullPage: true });
}
