import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { chromium, type Browser, type Page } from 'playwright-core';
import { databaseKinds } from '../helpers/databases.ts';
import { HttpBrowser, hiddenField } from '../helpers/browser.ts';
import {
  PASSWORD,
  api,
  apiToken,
  signInOn,
  CHROMIUM,
  CHROMIUM_ARGS,
  XSS,
  openConsole,
  screenshot,
  startConsoleCast,
  type ConsoleCast,
} from './console-fixture.ts';
import { expectAccessible } from '../helpers/axe.ts';

const skip = !existsSync(CHROMIUM) && !process.env.REQUIRE_BROWSER;
// Each test walks many pages in a real browser; a busy machine doubles the time.
vi.setConfig({ testTimeout: 120_000 });
const RESOURCE = 'http://localhost:4000/mcp';

/** Every console page, by the name of its screenshot. */
const pages = (ids: { user: string; ticket: string }) =>
  [
    ['users', '/console/users'],
    ['user', `/console/users/${ids.user}`],
    ['roles', '/console/roles'],
    ['role', '/console/roles/developer'],
    ['groups', '/console/groups'],
    ['group', '/console/groups/security-team'],
    ['clients', '/console/clients'],
    ['client', '/console/clients/mcp-elevate-console'],
    ['elevations', '/console/elevations'],
    ['tickets', '/console/tickets'],
    ['ticket', `/console/tickets/${ids.ticket}`],
    ['audit', '/console/audit'],
  ] as const;

describe.skipIf(skip).each(databaseKinds())('admin console in Chromium (%s)', (kind) => {
  let c: ConsoleCast;
  let browser: Browser;
  let page: Page;
  let token: string;
  const anyTicket = async () =>
    (await c.t.server.db.db.selectFrom('elevation_ticket').select('id').executeTakeFirstOrThrow())
      .id;
  /** A live elevation of the developer, granted at once (no approval needed for staging). */
  const grant = async () => {
    const outcome = await c.t.server.elevation.request({
      principal: { kind: 'user', id: c.dev, roles: ['developer'] },
      clientId: 'agent',
      scopes: ['mcp:deploy:staging'],
      resource: RESOURCE,
      justification: 'run the tests',
      channel: 'ciba',
      ref: 'console-test',
    });
    if (outcome.status !== 'granted') throw new Error('expected a granted elevation');
    return outcome.elevation.id;
  };

  beforeAll(async () => {
    c = await startConsoleCast(kind);
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    page = await openConsole(c, browser, 'admin@example.com');
    token = await apiToken(c);
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
    for (const [name, path] of pages({ user: c.dev, ticket: await anyTicket() })) {
      await axePage.goto(`${c.t.url}${path}`);
      expect(new URL(axePage.url()).pathname).toBe(path);
      await expectAccessible(axePage);
      await screenshot(axePage, name);
    }
    await context.close();
  }, 300_000);

  it('a person without the admin role is refused every console page and form, and sees no data', async () => {
    const context = await browser.newContext({ javaScriptEnabled: false });
    const dev = await context.newPage();
    await dev.goto(`${c.t.url}/console`);
    await signInOn(dev, 'dev@example.com');
    expect(await dev.locator('#refusal').innerText()).toContain('admin role');
    for (const [, path] of [
      ...pages({ user: c.admin, ticket: await anyTicket() }),
      ['login', '/console/login'],
    ]) {
      const res = await dev.goto(`${c.t.url}${path}`);
      expect(res!.status(), path).toBe(403);
      const html = await res!.text();
      expect(html).not.toContain('admin@example.com');
      expect(html).not.toContain('sec@example.com');
    }
    await screenshot(dev, 'refused');
    const res = await context.request.post(
      `${c.t.url}/console/elevations/${await grant()}/revoke`,
      {
        form: { csrf: 'x' },
        maxRedirects: 0,
      },
    );
    expect(res.status()).toBe(403);
    await context.close();
  });

  it('a role inheritance cycle is refused by the console with the same message as the API', async () => {
    for (const body of [{ name: 'cyc-a' }, { name: 'cyc-b', inherits: ['cyc-a'] }])
      expect((await api(c, token, 'POST', '/roles', body)).status).toBe(201);
    await page.goto(`${c.t.url}/console/roles/cyc-a`);
    await page.locator('#edit-role input[name=inherits][value=cyc-b]').check();
    const [res] = await Promise.all([
      page.waitForResponse((r) => r.request().method() === 'POST'),
      page.getByRole('button', { name: 'Save role' }).click(),
    ]);
    expect(res.status()).toBe(409);
    const shown = await page.locator('#refusal').innerText();
    await screenshot(page, 'role-cycle');
    const viaApi = await api(c, token, 'PUT', '/roles/cyc-a', { inherits: ['cyc-b'] });
    expect(viaApi.status).toBe(409);
    const problem = (await viaApi.json()) as { code: string; detail: string };
    expect(problem.code).toBe('ERR_ROLE_CYCLE');
    expect(shown).toBe(`${problem.detail} (${problem.code})`);
    const stored = await c.t.server.db.db
      .selectFrom('role')
      .select('inherits')
      .where('name', '=', 'cyc-a')
      .executeTakeFirstOrThrow();
    expect(stored.inherits).toEqual([]);
  });

  it('a role description with markup is shown as text and runs nothing', async () => {
    let dialogs = 0;
    page.on('dialog', (d) => {
      dialogs++;
      void d.dismiss();
    });
    await page.goto(`${c.t.url}/console/roles`);
    await page.locator('#name').fill('xss-role');
    await page.locator('#description').fill(XSS);
    await page.getByRole('button', { name: 'Create role' }).click();
    await page.waitForURL(/\/console\/roles\/xss-role\?notice=created$/);
    expect(await page.locator('#description').inputValue()).toBe(XSS);
    await page.goto(`${c.t.url}/console/roles`);
    expect(await page.locator('#roles .description', { hasText: 'script' }).innerText()).toBe(XSS);
    expect(await page.locator('main img').count()).toBe(0);
    expect(dialogs).toBe(0);
  });

  it('revoking an elevation in the console is audited exactly as through the API', async () => {
    const [viaConsole, viaApi] = [await grant(), await grant()];
    await page.goto(`${c.t.url}/console/elevations`);
    await page.getByRole('button', { name: `Revoke elevation ${viaConsole}` }).click();
    await page.waitForURL(/notice=revoked$/);
    expect(await page.locator('#notice').innerText()).toContain('revoked');
    expect((await api(c, token, 'POST', `/elevations/${viaApi}/revoke`)).status).toBe(200);
    // Events are chained into the trail shortly after their transaction commits.
    const revoked = () =>
      c.t.server.db.db
        .selectFrom('audit_event')
        .selectAll()
        .where('action', '=', 'elevation.revoked')
        .orderBy('seq')
        .execute();
    const ids = async () =>
      (await revoked()).map((e) => (e.data as { elevation?: string }).elevation);
    await expect.poll(ids).toEqual(expect.arrayContaining([viaConsole, viaApi]));
    const events = await revoked();
    const of = (id: string) => {
      const e = events.find((x) => (x.data as { elevation?: string }).elevation === id)!;
      return {
        action: e.action,
        result: e.result,
        actor: e.actor,
        subject: e.subject,
        client: e.client_id,
        resource: e.resource,
        data: { ...(e.data as object), elevation: 'id' },
      };
    };
    expect(of(viaConsole)).toEqual(of(viaApi));
    expect(of(viaConsole).actor).toBe(c.admin);
  });

  it("every console form refuses a post without this session's CSRF token", async () => {
    // A token of another web session of the same person: valid there, useless here.
    const other = new HttpBrowser();
    const login = await other.request(`${c.t.url}/login`);
    await other.request(`${c.t.url}/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        csrf: hiddenField(await login.text(), 'csrf'),
        next: '/approvals',
        email: 'admin@example.com',
        password: PASSWORD,
      }),
    });
    const foreign = hiddenField(await (await other.request(`${c.t.url}/approvals`)).text(), 'csrf');
    const live = await grant();
    const actions = new Set<string>();
    for (const [, path] of pages({ user: c.dev, ticket: await anyTicket() })) {
      await page.goto(`${c.t.url}${path}`);
      for (const a of await page
        .locator('main form[method=post]')
        .evaluateAll((forms) => forms.map((f) => f.getAttribute('action')!)))
        actions.add(a);
    }
    expect(actions.size).toBeGreaterThan(15);
    expect(actions).toContain(`/console/elevations/${live}/revoke`);
    for (const action of actions) {
      for (const csrf of [undefined, foreign]) {
        const res = await page.context().request.post(`${c.t.url}${action}`, {
          form: csrf ? { csrf } : {},
          maxRedirects: 0,
        });
        expect(res.status(), `${action} with ${csrf ? 'a foreign' : 'no'} token`).toBe(403);
      }
    }
    const still = await c.t.server.elevation.findElevation(live);
    expect(still?.revoked_at).toBeNull();
  });

  it('users are disabled, enabled and given a new password through the API operations, refusals worded as the API words them', async () => {
    await page.goto(`${c.t.url}/console/users/${c.dev}`);
    await page.getByRole('button', { name: 'Disable user' }).click();
    await page.waitForURL(/notice=disabled$/);
    expect(await page.locator('#user-state').innerText()).toBe('disabled');
    expect((await c.t.server.users.findById(c.dev))?.disabled).toBe(true);
    await page.getByRole('button', { name: 'Enable user' }).click();
    await page.waitForURL(/notice=enabled$/);
    expect((await c.t.server.users.findById(c.dev))?.disabled).toBe(false);

    await page.getByRole('button', { name: 'Reset password' }).click();
    const password = await page.locator('#secret').innerText();
    expect(password.length).toBeGreaterThanOrEqual(20);
    await screenshot(page, 'secret');
    const fresh = new HttpBrowser();
    const form = await fresh.request(`${c.t.url}/login`);
    const signIn = await fresh.request(`${c.t.url}/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        csrf: hiddenField(await form.text(), 'csrf'),
        next: '/approvals',
        email: 'dev@example.com',
        password,
      }),
    });
    expect(signIn.status).toBe(303);

    // Disabling oneself: the API's self-lockout rule, in the API's words.
    await page.goto(`${c.t.url}/console/users/${c.admin}`);
    const [res] = await Promise.all([
      page.waitForResponse((r) => r.request().method() === 'POST'),
      page.getByRole('button', { name: 'Disable user' }).click(),
    ]);
    expect(res.status()).toBe(409);
    const viaApi = await api(c, token, 'PATCH', `/users/${c.admin}`, { disabled: true });
    const problem = (await viaApi.json()) as { code: string; detail: string };
    expect(await page.locator('#refusal').innerText()).toBe(`${problem.detail} (${problem.code})`);
    await expect
      .poll(
        async () =>
          (
            await c.t.server.db.db
              .selectFrom('audit_event')
              .select('actor')
              .where('action', 'in', ['user.updated', 'user.password_reset'])
              .where('subject', '=', c.dev)
              .execute()
          ).length,
      )
      .toBe(3);
    const events = await c.t.server.db.db
      .selectFrom('audit_event')
      .select(['actor', 'client_id'])
      .where('action', '=', 'user.updated')
      .where('subject', '=', c.dev)
      .execute();
    for (const e of events) expect(e).toEqual({ actor: c.admin, client_id: 'mcp-elevate-console' });
  });

  it("a client's secret is rotated in the console through the API's operation: shown once, the old one refused", async () => {
    const created = (await (
      await api(c, token, 'POST', '/clients', { id: 'console-rotated' })
    ).json()) as { clientSecret: string };
    const grant = (secret: string) =>
      fetch(`${c.t.url}/token`, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          authorization: `Basic ${Buffer.from(`console-rotated:${secret}`).toString('base64')}`,
        },
        body: new URLSearchParams({ grant_type: 'client_credentials', resource: RESOURCE }),
      });
    await page.goto(`${c.t.url}/console/clients/console-rotated`);
    await page.getByRole('button', { name: 'Rotate the secret' }).click();
    const secret = await page.locator('#secret').innerText();
    expect(secret).not.toBe(created.clientSecret);
    expect((await grant(created.clientSecret)).status).toBe(401);
    expect((await grant(secret)).status).toBe(200);
    const events = await c.t.server.db.db
      .selectFrom('audit_event')
      .select(['actor', 'client_id'])
      .where('action', '=', 'client.secret_rotated')
      .execute();
    expect(events).toEqual([{ actor: c.admin, client_id: 'mcp-elevate-console' }]);
  });

  it('revoking the admin elevation ends console access at once: the next page asks for it again', async () => {
    const mine = await c.t.server.db.db
      .selectFrom('elevation')
      .select('id')
      .where('subject', '=', c.admin)
      .where('client_id', '=', 'mcp-elevate-console')
      .where('revoked_at', 'is', null)
      .executeTakeFirstOrThrow();
    await c.t.server.elevation.revoke(mine.id, c.approver);
    await page.goto(`${c.t.url}/console/users`);
    expect(new URL(page.url()).pathname).not.toMatch(/^\/console/);
    expect(await page.locator('#users').count()).toBe(0);
  });
});
