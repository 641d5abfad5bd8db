import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser, type Page } from 'playwright-core';
import { databaseKinds } from '../helpers/databases.ts';
import { hiddenField } from '../helpers/browser.ts';
import { approver, postDecision, ticketPage, ticketStatus } from '../approvals/fixture.ts';
import {
  assertionFor,
  auditData,
  enrol,
  openTicket,
  postFromPage,
  signInOnPage,
  startPasskeyServer,
  withAuthenticator,
  type PasskeyCast,
} from './fixture.ts';

const CHROMIUM = '/usr/bin/chromium';
// Skipped only where no browser is installed and nobody insists on one (CI sets REQUIRE_BROWSER).
const skip = !existsSync(CHROMIUM) && !process.env.REQUIRE_BROWSER;

describe.skipIf(skip).each(databaseKinds())(
  'approving with a passkey (%s)',
  { timeout: 90_000 },
  (kind) => {
    let c: PasskeyCast;
    let browser: Browser;
    /** The lead's signed-in page, with a virtual authenticator holding one enrolled passkey. */
    let lead: Page;
    let passkeyId: string;

    beforeAll(async () => {
      c = await startPasskeyServer(kind);
      browser = await chromium.launch({
        executablePath: CHROMIUM,
        args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
      });
      ({ page: lead } = await withAuthenticator(browser));
      await signInOnPage(lead, c, 'lead@example.com', '/approvals/passkeys');
      passkeyId = await enrol(lead, c, 'Work laptop');
      // A server start with migrations and a browser launch: slow on a busy machine.
    }, 240_000);
    afterAll(async () => {
      await browser?.close();
      await c?.close();
    });

    it('an enrolled passkey is listed, and its enrolment audited without key material', async () => {
      await lead.goto(`${c.origin}/approvals/passkeys`);
      const row = lead.locator(`#passkeys tr[data-passkey="${passkeyId}"]`);
      expect(await row.innerText()).toContain('Work laptop');
      expect(await row.innerText()).toContain('this device only');
      // "My access" lists it too, from the same service.
      await lead.goto(`${c.origin}/account`);
      expect(await lead.locator('#passkey-list').innerText()).toContain('Work laptop');
      const data = await auditData(c, 'passkey.registered', c.lead);
      expect(data).toEqual({
        passkey: passkeyId,
        name: 'Work laptop',
        deviceType: 'singleDevice',
        backedUp: false,
      });
    });

    it('an approver approves a ticket that needs a passkey with theirs; the audit shows how', async () => {
      const id = await openTicket(c);
      await lead.goto(`${c.origin}/approvals/${id}`);
      expect(await lead.locator('#passkey-needed').innerText()).toContain(
        'needs one of your passkeys',
      );
      await lead.locator('#comment').fill('Checked, go ahead.');
      await lead.getByRole('button', { name: 'Approve' }).click();
      await lead.waitForURL(/done=approve$/);
      expect(await lead.locator('#outcome').getAttribute('data-status')).toBe('approved');
      expect(await ticketStatus(c.t, id)).toBe('approved');
      const data = await auditData(c, 'ticket.approval', c.lead);
      expect(data).toMatchObject({ ticket: id, amr: ['pwd', 'hwk', 'user'], passkey: passkeyId });
      expect(JSON.stringify(data)).not.toMatch(/challenge|publicKey|signature/i);
    });

    it('approving without a passkey is refused with a clear message; the ticket stays pending', async () => {
      const id = await openTicket(c);
      const b = await approver(c.t, 'sre@example.com');
      const page = await ticketPage(b, c.t, id);
      expect(page.html).toContain('Approving with a passkey needs JavaScript');
      const res = await postDecision(b, c.t, id, 'approve');
      expect(res.status).toBe(403);
      const html = await res.text();
      expect(html).toContain('A passkey is needed to approve this request');
      expect(html).toContain('the request is still waiting');
      expect(await ticketStatus(c.t, id)).toBe('pending');
      // A made-up assertion is no way around it.
      const csrf = hiddenField(page.html, 'csrf');
      const clientData = Buffer.from(
        JSON.stringify({ type: 'webauthn.get', challenge: 'A'.repeat(43), origin: c.origin }),
      ).toString('base64url');
      const forged = await b.request(`${c.t.url}/approvals/${id}/decision`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          csrf,
          decision: 'approve',
          assertion: JSON.stringify({
            id: 'x',
            type: 'public-key',
            response: { clientDataJSON: clientData },
          }),
        }),
      });
      expect(forged.status).toBe(403);
      expect(await forged.text()).toContain('expired or was already used');
      expect(await ticketStatus(c.t, id)).toBe('pending');
    });

    it('denying needs no passkey, and its audit event says the approver used a password', async () => {
      const id = await openTicket(c);
      const b = await approver(c.t, 'sre@example.com');
      expect((await postDecision(b, c.t, id, 'deny', { comment: 'not now' })).status).toBe(303);
      expect(await ticketStatus(c.t, id)).toBe('denied');
      expect(await auditData(c, 'ticket.denial', c.sre)).toMatchObject({
        ticket: id,
        amr: ['pwd'],
      });
    });

    it('an assertion made for another ticket or the other decision is refused, and so is a replay', async () => {
      const [a, b] = [await openTicket(c), await openTicket(c)];
      await lead.goto(`${c.origin}/approvals/${a}`);
      const forA = await assertionFor(lead, a, 'approve');
      const other = await postFromPage(lead, b, { decision: 'approve', assertion: forA });
      expect(other.status).toBe(403);
      expect(other.text).toContain('made for another request or decision');
      expect(await ticketStatus(c.t, b)).toBe('pending');

      const denyOfA = await assertionFor(lead, a, 'deny');
      const swapped = await postFromPage(lead, a, { decision: 'approve', assertion: denyOfA });
      expect(swapped.status).toBe(403);
      expect(swapped.text).toContain('made for another request or decision');
      expect(await ticketStatus(c.t, a)).toBe('pending');

      const good = await assertionFor(lead, a, 'approve');
      const first = await postFromPage(lead, a, { decision: 'approve', assertion: good });
      expect(first.url).toMatch(/done=approve$/);
      expect(await ticketStatus(c.t, a)).toBe('approved');
      const replay = await postFromPage(lead, b, { decision: 'approve', assertion: good });
      expect(replay.status).toBe(403);
      expect(replay.text).toContain('already used');
      expect(await ticketStatus(c.t, b)).toBe('pending');
    });

    it('with ADMIN_REQUIRE_PASSKEY, admin elevation is approved only with a passkey', async () => {
      const id = await openTicket(c, 'admin');
      const plain = await approver(c.t, 'lead@example.com');
      const refused = await postDecision(plain, c.t, id, 'approve');
      expect(refused.status).toBe(403);
      expect(await refused.text()).toContain('A passkey is needed to approve this request');
      expect(await ticketStatus(c.t, id)).toBe('pending');
      await expect(c.t.server.elevation.decide(id, c.lead, 'approve')).rejects.toMatchObject({
        code: 'ERR_PASSKEY_REQUIRED',
      });

      await lead.goto(`${c.origin}/approvals/${id}`);
      await lead.getByRole('button', { name: 'Approve' }).click();
      await lead.waitForURL(/done=approve$/);
      expect(await ticketStatus(c.t, id)).toBe('approved');
    });

    it('a removed passkey no longer approves anything', async () => {
      const id = await openTicket(c);
      await lead.goto(`${c.origin}/approvals/${id}`);
      const assertion = await assertionFor(lead, id, 'approve');
      await lead.goto(`${c.origin}/approvals/passkeys`);
      await lead.getByRole('button', { name: 'Remove Work laptop' }).click();
      await lead.waitForURL(/done=removed$/);
      expect(await lead.locator('#no-passkeys').isVisible()).toBe(true);
      expect(await auditData(c, 'passkey.removed', c.lead)).toEqual({
        passkey: passkeyId,
        name: 'Work laptop',
      });

      await lead.goto(`${c.origin}/approvals/${id}`);
      expect(await lead.locator('#passkey-needed').innerText()).toContain('you have none yet');
      const res = await postFromPage(lead, id, { decision: 'approve', assertion });
      expect(res.status).toBe(403);
      expect(res.text).toContain('not one of yours');
      expect(await ticketStatus(c.t, id)).toBe('pending');
    });
  },
);
