import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import type { Browser, BrowserContext, CDPSession, Page } from 'playwright-core';
import { createTestDatabase } from '../helpers/databases.ts';
import { freePort, startTestServer, type TestServer } from '../helpers/server.ts';
import { PASSWORD, PRODUCTION, RESOURCE } from '../approvals/fixture.ts';

/**
 * A server whose ISSUER is `http://localhost:<port>`: WebAuthn needs a secure context and an RP ID
 * that is a domain (an IP address such as 127.0.0.1 is refused), and localhost is both. The
 * production-deploy scope needs a passkey; `ADMIN_REQUIRE_PASSKEY` is on.
 */
export interface PasskeyCast {
  t: TestServer;
  /** The issuer, the origin Chromium must use. */
  origin: string;
  requester: string;
  /** tech-lead and security-team: approves production deploys and admin elevation. */
  lead: string;
  /** sre-oncall: another approver of production deploys. */
  sre: string;
  /** Holds the admin role; asks for `mcp:admin`. */
  admin: string;
  close(): Promise<void>;
}

export async function startPasskeyServer(kind: 'pglite' | 'postgres'): Promise<PasskeyCast> {
  const catalogue = JSON.parse(
    await readFile(new URL('../../scopes.json', import.meta.url), 'utf8'),
  );
  delete catalogue.$schema;
  catalogue.scopes[PRODUCTION].approval.requirePasskey = true;
  const dir = await mkdtemp(join(tmpdir(), 'mcpe-passkeys-'));
  const scopesFile = join(dir, 'scopes.json');
  await writeFile(scopesFile, JSON.stringify(catalogue));
  const port = await freePort();
  const origin = `http://localhost:${port}`;
  const t = await startTestServer(
    kind,
    { ISSUER: origin, SCOPES_FILE: scopesFile, ADMIN_REQUIRE_PASSKEY: 'true' },
    { db: await createTestDatabase(kind), dataDir: await mkdtemp(join(tmpdir(), 'mcpe-')), port },
  );
  const create = async (email: string, roles: string[], groups: string[]) =>
    (await t.server.users.create({ email, name: email, password: PASSWORD, roles, groups })).id;
  return {
    t,
    origin,
    requester: await create('dev@example.com', ['senior_developer'], ['tech-lead']),
    lead: await create('lead@example.com', ['developer'], ['tech-lead', 'security-team']),
    sre: await create('sre@example.com', ['developer'], ['sre-oncall']),
    admin: await create('admin@example.com', ['admin'], []),
    async close() {
      await t.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Opens a pending ticket for `scopes` (an agent over CIBA would). */
export async function openTicket(
  c: PasskeyCast,
  scope: 'production' | 'admin' = 'production',
): Promise<string> {
  const admin = scope === 'admin';
  const outcome = await c.t.server.elevation.request({
    principal: {
      kind: 'user',
      id: admin ? c.admin : c.requester,
      roles: [admin ? 'admin' : 'senior_developer'],
    },
    clientId: 'agent',
    scopes: [admin ? 'mcp:admin' : PRODUCTION],
    resource: admin ? `${c.origin}/admin` : RESOURCE,
    justification: 'Hotfix for incident 42',
    channel: 'ciba',
    ref: `ref-${Math.random()}`,
  });
  if (outcome.status !== 'pending') throw new Error('expected a pending ticket');
  return outcome.ticket.id;
}

/** A Chromium context with a virtual platform authenticator (CTAP2, user verification). */
export async function withAuthenticator(
  browser: Browser,
): Promise<{ context: BrowserContext; page: Page; cdp: CDPSession }> {
  const context = await browser.newContext();
  const page = await context.newPage();
  page.setDefaultTimeout(30_000);
  if (process.env.DEBUG_PASSKEYS) page.on('console', (m) => console.log('page:', m.text()));
  const cdp = await context.newCDPSession(page);
  await cdp.send('WebAuthn.enable');
  await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: {
      protocol: 'ctap2',
      transport: 'internal',
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
    },
  });
  return { context, page, cdp };
}

/** Signs in on the site's form in the page, landing on `next`. */
export async function signInOnPage(page: Page, c: PasskeyCast, email: string, next: string) {
  await page.goto(`${c.origin}/login?next=${encodeURIComponent(next)}`);
  await page.locator('#email').fill(email);
  await page.locator('#password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(`${c.origin}${next}`);
}

/** Adds a passkey named `name` on the enrolment page; returns its id. */
export async function enrol(page: Page, c: PasskeyCast, name: string): Promise<string> {
  await page.goto(`${c.origin}/approvals/passkeys`);
  await page.locator('#passkey-name').fill(name);
  await page.getByRole('button', { name: 'Add a passkey' }).click();
  await page.waitForURL(/done=added$/);
  expect(await page.locator('#notice').innerText()).toBe('Your passkey was added.');
  const row = page.locator('#passkeys tr', { hasText: name });
  return (await row.getAttribute('data-passkey'))!;
}

/**
 * Runs an approval ceremony in the page (it must have the scripts loaded) for `decision` on
 * `ticket`, without posting it: the assertion JSON, as the approval form would carry it.
 */
export async function assertionFor(page: Page, ticket: string, decision: string): Promise<string> {
  return page.evaluate(
    async ({ ticket, decision }) => {
      const csrf = (globalThis as any).document.querySelector('input[name=csrf]').value;
      const res = await fetch('/approvals/passkeys/approval-options', {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          accept: 'application/json',
        },
        body: new URLSearchParams({ csrf, ticket, decision }),
      });
      const options = await res.json();
      const lib = (globalThis as any).SimpleWebAuthnBrowser;
      return JSON.stringify(await lib.startAuthentication({ optionsJSON: options }));
    },
    { ticket, decision },
  );
}

/** Posts a decision form from the page: status and text of the answer (redirects followed). */
export async function postFromPage(
  page: Page,
  ticket: string,
  fields: Record<string, string>,
): Promise<{ status: number; text: string; url: string }> {
  return page.evaluate(
    async ({ ticket, fields }) => {
      const csrf = (globalThis as any).document.querySelector('input[name=csrf]').value;
      const res = await fetch(`/approvals/${ticket}/decision`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ csrf, comment: '', ...fields }),
      });
      return { status: res.status, text: await res.text(), url: res.url };
    },
    { ticket, fields },
  );
}

/** The data of the newest audit event `action` of `actor`. */
export async function auditData(
  c: PasskeyCast,
  action: string,
  actor: string,
): Promise<Record<string, unknown> | undefined> {
  await c.t.server.audit.flush();
  const row = await c.t.server.db.db
    .selectFrom('audit_event')
    .select('data')
    .where('action', '=', action)
    .where('actor', '=', actor)
    .orderBy('seq', 'desc')
    .executeTakeFirst();
  return row?.data as Record<string, unknown> | undefined;
}
