import { screenshot as saveScreenshot } from '../helpers/screenshots.ts';
import { expect } from 'vitest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import * as client from 'openid-client';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { completeAuthorization } from '../helpers/flows.ts';
import { registerClient } from '../../src/oidc/clients.ts';
import { adminResource } from '../../src/oidc/resources.ts';

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
    // The waiting page refreshes itself every 3 s (meta refresh, no script) and then goes on;
    // navigating ourselves could race it for the one-time interaction.
    await page.waitForURL(/\/console\//, { timeout: 30_000 });
  }
}

/** Saves `test-results/screenshots/console-<name>.png`. */
export const screenshot = (page: Page, name: string) => saveScreenshot(page, `console-${name}`);

const REDIRECT = 'http://127.0.0.1:9/callback';

/**
 * An admin API token for `admin@example.com` through the real pages (authorization code + PKCE
 * with a CLI-like client), its approval given by the security team: what an API caller holds.
 */
export async function apiToken(c: ConsoleCast): Promise<string> {
  const exists = await c.t.server.db.db
    .selectFrom('oidc_payload')
    .select('id')
    .where('model', '=', 'Client')
    .where('id', '=', 'admin-cli')
    .executeTakeFirst();
  if (!exists)
    await registerClient(c.t.server.provider, c.t.server.db.db, {
      id: 'admin-cli',
      redirectUris: [REDIRECT],
      grantTypes: ['authorization_code'],
    });
  const config = await client.discovery(new URL(c.t.url), 'admin-cli', undefined, client.None(), {
    execute: [client.allowInsecureRequests],
  });
  const resource = adminResource(c.t.url);
  const verifier = client.randomPKCECodeVerifier();
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: REDIRECT,
    resource,
    scope: 'mcp:admin',
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
  });
  let approving: Promise<unknown> | undefined;
  const callback = await completeAuthorization({
    authorizationUrl: url.href,
    redirectUri: REDIRECT,
    email: 'admin@example.com',
    password: PASSWORD,
    justification: 'admin API call',
    onWaiting: () => {
      approving ??= c.t.server.db.db
        .selectFrom('elevation_ticket')
        .select('id')
        .where('status', '=', 'pending')
        .where('client_id', '=', 'admin-cli')
        .executeTakeFirstOrThrow()
        .then((t) => c.t.server.elevation.decide(t.id, c.approver, 'approve', 'ok'));
    },
  });
  await approving;
  const tokens = await client.authorizationCodeGrant(
    config,
    callback,
    { pkceCodeVerifier: verifier },
    { resource },
  );
  return tokens.access_token;
}

/** Calls the admin API with `token`. */
export function api(
  c: ConsoleCast,
  token: string,
  method: string,
  path: string,
  json?: unknown,
): Promise<Response> {
  return fetch(`${c.t.url}/admin/v1${path}`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(json !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    body: json !== undefined ? JSON.stringify(json) : undefined,
  });
}
