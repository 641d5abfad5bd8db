import { beforeAll, describe, expect, it } from 'vitest';
import { databaseKinds } from '../helpers/databases.ts';
import { HttpBrowser, hiddenField } from '../helpers/browser.ts';
import { approver } from '../approvals/fixture.ts';
import { SESSION_COOKIE } from '../../src/web/session.ts';
import { accountCsrf, postForm, type AccountWorld } from './account-fixture.ts';
import { FORM, useAttackWorld } from './attack-fixture.ts';

/**
 * Attacks on the web session pages, as a hostile site, a careless browser or a curious user would
 * make them; each a class of inputs tried on every entry point it applies to.
 * Session fixation, cookie tampering, sign-out, login CSRF and CSRF on decisions.
 */
describe.each(databaseKinds())(
  'attacks: session fixation, tampering, sign-out and CSRF (%s)',
  (kind) => {
    const s = useAttackWorld(kind);
    let w: AccountWorld;
    let dev: HttpBrowser;
    let other: HttpBrowser;
    beforeAll(() => {
      ({ w, dev, other } = s);
    });
    const url = (path: string) => s.url(path);
    const form = FORM;
    const signed = (value: string) => s.signed(value);
    const holding = (value: string, sig: string) => s.holding(value, sig);
    const nothingChanged = () => s.nothingChanged();

    describe('session fixation and tampering', () => {
      const parts = () => ({
        value: dev.cookie(w.t.url, SESSION_COOKIE)!,
        sig: dev.cookie(w.t.url, `${SESSION_COOKIE}.sig`)!,
      });
      const signedOut = async (b: HttpBrowser, what: string) => {
        const res = await b.request(url('/account'));
        expect(res.status, what).toBe(303);
        expect(res.headers.get('location'), what).toBe('/login?next=%2Faccount');
      };

      it('a forged session cookie planted before sign-in is replaced by a fresh session', async () => {
        const planted = `v2.${w.requester}.${Date.now()}.${'A'.repeat(24)}.pwd`;
        const b = holding(planted, 'forged-signature');
        await signedOut(b, 'planted');
        const page = await b.request(url('/login'));
        const csrf = hiddenField(await page.text(), 'csrf');
        const res = await b.request(url('/login'), {
          method: 'POST',
          headers: form,
          body: new URLSearchParams({
            csrf,
            next: '/account',
            email: 'dev@example.com',
            password: 'approver password',
          }),
        });
        expect(res.status).toBe(303);
        const now = b.cookie(w.t.url, SESSION_COOKIE)!;
        expect(now).not.toBe(planted);
        expect(now.split('.')[3]).not.toBe('A'.repeat(24));
        expect((await b.request(url('/account'))).status).toBe(200);
      });

      it("an attacker's pre-login nonce and token planted in a victim's browser give the attacker nothing", async () => {
        const attacker = new HttpBrowser();
        const loginToken = hiddenField(
          await (await attacker.request(url('/login'))).text(),
          'csrf',
        );
        const nonce = attacker.cookie(w.t.url, 'mcp_elevate_login')!;
        const nonceSig = attacker.cookie(w.t.url, 'mcp_elevate_login.sig')!;
        const victim = new HttpBrowser();
        victim.jar.setCookieSync(`mcp_elevate_login=${nonce}; Path=/`, w.t.url);
        victim.jar.setCookieSync(`mcp_elevate_login.sig=${nonceSig}; Path=/`, w.t.url);
        const res = await victim.request(url('/login'), {
          method: 'POST',
          headers: form,
          body: new URLSearchParams({
            csrf: loginToken,
            next: '/account',
            email: 'dev@example.com',
            password: 'approver password',
          }),
        });
        expect(res.status).toBe(303);
        const session = victim.cookie(w.t.url, SESSION_COOKIE)!;
        // The session id is fresh, not the nonce; the nonce cookie is gone.
        expect(session.split('.')[3]).not.toBe(nonce);
        expect(victim.cookie(w.t.url, 'mcp_elevate_login')).toBeUndefined();
        // The login token the attacker holds is no session token.
        for (const path of ['/logout', `/account/tickets/${w.dev.pending}/cancel`]) {
          const post = await postForm(victim, url(path), { csrf: loginToken });
          expect(post.status, path).toBe(403);
        }
        expect((await victim.request(url('/account'))).status).toBe(200);
        await nothingChanged();
      });

      it('a tampered, re-signed, unsigned, expired or future cookie is no session', async () => {
        const { value, sig } = parts();
        const [, user, ms, sid, method] = value.split('.');
        const otherValue = other.cookie(w.t.url, SESSION_COOKIE)!;
        const otherSig = other.cookie(w.t.url, `${SESSION_COOKIE}.sig`)!;
        const tampered: Array<[string, string, string]> = [
          ['other user, old signature', `v2.${w.outsider}.${ms}.${sid}.${method}`, sig],
          ['other user id with my signature', `v2.${w.lead}.${ms}.${sid}.${method}`, sig],
          ['later sign-in time', `v2.${user}.${Number(ms) + 1}.${sid}.${method}`, sig],
          ['other sid', `v2.${user}.${ms}.${'B'.repeat(24)}.${method}`, sig],
          ['other method', `v2.${user}.${ms}.${sid}.fed`, sig],
          ["another session's signature", value, otherSig],
          ['my signature on their cookie', otherValue, sig],
          ['no signature', value, 'NONE'],
          ['signed, 8 h old', `v2.${user}.${Date.now() - 8 * 3600_000 - 1000}.${sid}.pwd`, ''],
          ['signed, from the future', `v2.${user}.${Date.now() + 5 * 60_000}.${sid}.pwd`, ''],
          ['signed, old format', `v1.${user}.${Date.now()}.${sid}`, ''],
          ['signed, extra field', `v2.${user}.${Date.now()}.${sid}.pwd.x`, ''],
          ['signed, deleted user', `v2.no-such-user.${Date.now()}.${sid}.pwd`, ''],
          ['signed, huge id', `v2.${'u'.repeat(5000)}.${Date.now()}.${sid}.pwd`, ''],
        ];
        for (const [what, v, s] of tampered) {
          const b = holding(v, s || (what.startsWith('signed') ? signed(v) : 'x'));
          await signedOut(b, what);
          const post = await postForm(b, url(`/account/elevations/${w.dev.elevation}/drop`), {
            csrf: 'x',
          });
          expect(post.status, what).toBe(303);
        }
        // Control: a cookie the server signed is a session, so the refusals above are the checks.
        const fresh = `v2.${user}.${Date.now()}.${'C'.repeat(24)}.pwd`;
        expect((await holding(fresh, signed(fresh)).request(url('/account'))).status).toBe(200);
        await nothingChanged();
      });
    });

    describe('sign-out', () => {
      it('needs the session token: none, a login token, another session or a GET leave the session', async () => {
        const b = await approver(w.t, 'dev@example.com');
        const loginToken = hiddenField(
          await (await new HttpBrowser().request(url('/login'))).text(),
          'csrf',
        );
        const foreign = await accountCsrf(other, w.t);
        for (const path of ['/logout', '/approvals/logout']) {
          for (const csrf of [undefined, loginToken, foreign, '']) {
            const res = await postForm(b, url(path), csrf === undefined ? {} : { csrf });
            expect(res.status, `${path} ${csrf}`).toBe(403);
          }
          for (const method of ['GET', 'HEAD', 'PUT', 'DELETE']) {
            const res = await b.request(url(path), { method });
            expect([404, 405], `${method} ${path}`).toContain(res.status);
          }
        }
        expect((await b.request(url('/account'))).status).toBe(200);
      });

      it('ends the session in the browser, and the page state after it is signed out', async () => {
        // Another account than the world's signed-in ones: sign-out ends all of its sessions.
        const b = await approver(w.t, 'sre@example.com');
        const csrf = await accountCsrf(b, w.t);
        const res = await postForm(b, url('/approvals/logout'), { csrf });
        expect(res.status).toBe(303);
        expect(res.headers.get('location')).toBe('/login');
        expect(b.cookie(w.t.url, SESSION_COOKIE)).toBeUndefined();
        expect((await b.request(url('/account'))).status).toBe(303);
        // The old token does nothing now (the poster is signed out).
        const post = await postForm(b, url(`/account/tickets/${w.dev.pending}/cancel`), { csrf });
        expect(post.headers.get('location')).toBe('/login?next=%2Faccount');
        await nothingChanged();
      });
    });

    describe('sign-out on the server', () => {
      it('a copy of the cookie taken before sign-out is refused everywhere, and so is a second session of the account', async () => {
        const b = await approver(w.t, 'lead@example.com');
        const second = await approver(w.t, 'lead@example.com');
        const copy = [SESSION_COOKIE, `${SESSION_COOKIE}.sig`]
          .map((name) => `${name}=${b.cookie(w.t.url, name)}`)
          .join('; ');
        const withCopy = () =>
          fetch(url('/account'), { headers: { cookie: copy }, redirect: 'manual' });
        expect((await withCopy()).status).toBe(200);
        expect((await second.request(url('/approvals'))).status).toBe(200);
        const csrf = await accountCsrf(b, w.t);
        expect((await postForm(b, url('/logout'), { csrf })).status).toBe(303);
        expect((await withCopy()).status).toBe(303);
        expect((await second.request(url('/approvals'))).status).toBe(303);
        // Signing in again begins a session that works.
        const again = await approver(w.t, 'lead@example.com');
        expect((await again.request(url('/approvals'))).status).toBe(200);
      });
    });

    describe('login CSRF', () => {
      it('a cross-site sign-in (no nonce cookie, or a token of another browser or of a session) is refused', async () => {
        const attacker = new HttpBrowser();
        const attackerToken = hiddenField(
          await (await attacker.request(url('/login'))).text(),
          'csrf',
        );
        const sessionToken = await accountCsrf(dev, w.t);
        const victim = new HttpBrowser();
        await victim.request(url('/login'));
        const cases: Array<[string, HttpBrowser, string | undefined]> = [
          ['no cookie, a real token', new HttpBrowser(), attackerToken],
          ['own cookie, token of another browser', victim, attackerToken],
          ['own cookie, a session token', victim, sessionToken],
          ['own cookie, no token', victim, undefined],
        ];
        for (const [what, b, csrf] of cases) {
          const res = await b.request(url('/login'), {
            method: 'POST',
            headers: form,
            body: new URLSearchParams({
              ...(csrf ? { csrf } : {}),
              email: 'outsider@example.com',
              password: 'approver password',
            }),
          });
          expect(res.status, what).toBe(403);
          expect(b.cookie(w.t.url, SESSION_COOKIE), what).toBeUndefined();
        }
      });
    });

    describe('CSRF on the approval decision', () => {
      it('refuses a decision without this session token, in every wrong place', async () => {
        const lead = await approver(w.t, 'lead@example.com');
        const loginToken = hiddenField(
          await (await new HttpBrowser().request(url('/login'))).text(),
          'csrf',
        );
        const foreign = await accountCsrf(other, w.t);
        const own = await accountCsrf(lead, w.t);
        const decision = url(`/approvals/${w.dev.pending}/decision`);
        for (const csrf of [
          undefined,
          loginToken,
          foreign,
          'forged',
          `${own}x`,
          own.toLowerCase(),
        ]) {
          const res = await postForm(lead, decision, {
            decision: 'approve',
            ...(csrf ? { csrf } : {}),
          });
          expect(res.status).toBe(403);
        }
        // The right token in the query string or a header is not the form's token.
        const inQuery = await postForm(lead, `${decision}?csrf=${own}`, { decision: 'approve' });
        expect(inQuery.status).toBe(403);
        const inHeader = await lead.request(decision, {
          method: 'POST',
          headers: { ...form, 'x-csrf-token': own },
          body: 'decision=approve',
        });
        expect(inHeader.status).toBe(403);
        await nothingChanged();
      });
    });
  },
);
