import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser } from 'playwright-core';
import { databaseKinds } from '../helpers/databases.ts';
import { hiddenField, type HttpBrowser } from '../helpers/browser.ts';
import { approver } from '../approvals/fixture.ts';
import {
  enrol,
  openTicket,
  signInOnPage,
  startPasskeyServer,
  withAuthenticator,
  type PasskeyCast,
} from './fixture.ts';

const CHROMIUM = '/usr/bin/chromium';
const skip = !existsSync(CHROMIUM) && !process.env.REQUIRE_BROWSER;

/** Posts a form of the passkey pages with `fields` from the session of `b`. */
async function post(b: HttpBrowser, url: string, fields: Record<string, string>) {
  return b.request(url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'text/html' },
    body: new URLSearchParams(fields),
  });
}

/** The CSRF token of the session of `b`, from its passkeys page. */
async function csrfOf(b: HttpBrowser, c: PasskeyCast): Promise<string> {
  return hiddenField(await (await b.request(`${c.t.url}/approvals/passkeys`)).text(), 'csrf');
}

describe.skipIf(skip).each(databaseKinds())(
  'passkey enrolment (%s)',
  { timeout: 90_000 },
  (kind) => {
    let c: PasskeyCast;
    let browser: Browser;
    let passkeyId: string;
    const stored = async () =>
      (await c.t.server.db.db.selectFrom('passkey').select('id').execute()).map((r) => r.id);

    beforeAll(async () => {
      c = await startPasskeyServer(kind);
      browser = await chromium.launch({
        executablePath: CHROMIUM,
        args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
      });
      const { page } = await withAuthenticator(browser);
      await signInOnPage(page, c, 'lead@example.com', '/approvals/passkeys');
      passkeyId = await enrol(page, c, 'Security key');
    }, 240_000);
    afterAll(async () => {
      await browser?.close();
      await c?.close();
    });

    it('without JavaScript the page lists passkeys and says plainly that adding one needs it', async () => {
      const b = await approver(c.t, 'lead@example.com');
      const html = await (await b.request(`${c.t.url}/approvals/passkeys`)).text();
      expect(html).toContain('Security key');
      expect(html).toMatch(/<noscript>.*Adding a passkey needs JavaScript/s);
      expect(html).toMatch(/<button type="submit" id="add-passkey-button" hidden>/);
      // The form posted anyway (no ceremony ran) gets the same answer, and nothing is stored.
      const res = await post(b, `${c.t.url}/approvals/passkeys`, {
        csrf: await csrfOf(b, c),
        name: 'x',
      });
      expect(res.status).toBe(400);
      expect(await res.text()).toContain('Adding a passkey needs JavaScript');
      expect(await stored()).toEqual([passkeyId]);
    });

    it('pages that run a ceremony load only script files of this site, with the right types', async () => {
      const b = await approver(c.t, 'lead@example.com');
      const page = await b.request(`${c.t.url}/approvals/passkeys`);
      const csp = page.headers.get('content-security-policy')!;
      // Scripts from this site's files only: no inline script, nothing from elsewhere.
      const scripts = csp.split('; ').filter((d) => d.startsWith('script-src'));
      expect(scripts).toEqual(["script-src 'self'"]);
      const html = await page.text();
      expect(html).not.toMatch(/<script>|<script(?![^>]*\bsrc=)[^>]*>/);
      const sources = [...html.matchAll(/<script src="([^"]+)"/g)].map((m) => m[1]!);
      expect(sources).toHaveLength(2);
      const [bundle, ours] = await Promise.all(sources.map((s) => fetch(`${c.t.url}${s}`)));
      expect(bundle!.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
      expect(bundle!.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
      expect(await bundle!.text()).toContain('SimpleWebAuthnBrowser');
      expect(ours!.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
      expect(ours!.headers.get('x-content-type-options')).toBe('nosniff');
    });

    it('the add, remove and challenge forms refuse a post without this session’s CSRF token', async () => {
      const lead = await approver(c.t, 'lead@example.com');
      const other = await csrfOf(await approver(c.t, 'sre@example.com'), c);
      const ticket = await openTicket(c);
      for (const csrf of [undefined, other]) {
        const fields: Record<string, string> = csrf ? { csrf } : {};
        const remove = await post(
          lead,
          `${c.t.url}/approvals/passkeys/${passkeyId}/remove`,
          fields,
        );
        expect(remove.status).toBe(403);
        expect((await post(lead, `${c.t.url}/approvals/passkeys/options`, fields)).status).toBe(
          403,
        );
        expect(
          (await post(lead, `${c.t.url}/approvals/passkeys`, { ...fields, response: '{}' })).status,
        ).toBe(403);
        const challenge = await post(lead, `${c.t.url}/approvals/passkeys/approval-options`, {
          ...fields,
          ticket,
          decision: 'approve',
        });
        expect(challenge.status).toBe(403);
      }
      expect(await stored()).toEqual([passkeyId]);
      const challenges = await c.t.server.db.db
        .selectFrom('webauthn_challenge')
        .select('purpose')
        .execute();
      expect(challenges.filter((r) => r.purpose === 'approve')).toEqual([]);
    });

    it('nobody removes another person’s passkey, even with their own valid form', async () => {
      const sre = await approver(c.t, 'sre@example.com');
      const res = await post(sre, `${c.t.url}/approvals/passkeys/${passkeyId}/remove`, {
        csrf: await csrfOf(sre, c),
      });
      expect(res.status).toBe(404);
      expect(await stored()).toEqual([passkeyId]);
    });

    it('an approval challenge is issued only to an approver of the ticket', async () => {
      const ticket = await openTicket(c);
      const requester = await approver(c.t, 'dev@example.com');
      const asked = await post(requester, `${c.t.url}/approvals/passkeys/approval-options`, {
        csrf: await csrfOf(requester, c),
        ticket,
        decision: 'approve',
      });
      expect(asked.status).toBe(403);
      const unknown = await post(requester, `${c.t.url}/approvals/passkeys/approval-options`, {
        csrf: await csrfOf(requester, c),
        ticket: 'no-such-ticket',
        decision: 'approve',
      });
      expect(unknown.status).toBe(404);
    });

    it('the owner removes their passkey with the form of their session', async () => {
      const lead = await approver(c.t, 'lead@example.com');
      const res = await post(lead, `${c.t.url}/approvals/passkeys/${passkeyId}/remove`, {
        csrf: await csrfOf(lead, c),
      });
      expect(res.status).toBe(303);
      expect(res.headers.get('location')).toBe('/approvals/passkeys?done=removed');
      expect(await stored()).toEqual([]);
    });
  },
);
