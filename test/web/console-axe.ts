// The console's own copy of the accessibility check (same rules as test/helpers/axe.ts of the site pages).
import { AxeBuilder } from '@axe-core/playwright';
import type { Page } from 'playwright-core';

/** Impacts that fail a page: what blocks or seriously hinders someone using assistive technology. */
const FAILING = new Set(['serious', 'critical']);

/**
 * Runs axe-core (WCAG 2.x A and AA rules and axe's best practices) on the page as it is now and
 * throws listing every violation of impact `serious` or `critical`, with the offending elements.
 * Minor and moderate findings do not fail the check.
 */
export async function expectAccessible(page: Page): Promise<void> {
  const results = await new AxeBuilder({ page })
    .withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'])
    .analyze();
  const failing = results.violations.filter((v) => v.impact && FAILING.has(v.impact));
  if (!failing.length) return;
  const lines = failing.flatMap((v) => [
    `${v.impact}: ${v.id} — ${v.help} (${v.helpUrl})`,
    ...v.nodes.map((n) => `    ${n.target.join(' ')}: ${n.failureSummary?.replace(/\n/g, '; ')}`),
  ]);
  throw new Error(`accessibility violations on ${page.url()}:\n${lines.join('\n')}`);
}
