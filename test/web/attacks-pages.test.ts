import { beforeAll, describe, expect, it } from 'vitest';
import { databaseKinds } from '../helpers/databases.ts';
import { HttpBrowser, hiddenField } from '../helpers/browser.ts';
import { approver, signIn } from '../approvals/fixture.ts';
import { SESSION_COOKIE } from '../../src/web/session.ts';
import { accountCsrf, postForm, type AccountWorld } from './account-fixture.ts';
import { useAttackWorld } from './attack-fixture.ts';

/**
 * Attacks on the web session pages, as a hostile site, a careless browser or a curious user would
 * make them; each a class of inputs tried on every entry point it applies to.
 * Stored XSS through every value shown, response headers on every page and refusal, disabled
 * and deleted users.
 */
describe.each(databaseKinds())(
  'attacks: stored XSS, headers, disabled and deleted users (%s)',
  (kind) => {
    const s = useAttackWorld(kind);
    let w: AccountWorld;
    let dev: HttpBrowser;
    beforeAll(() => {
      ({ w, dev } = s);
    });
    const url = (path: string) => s.url(path);
    const holding = (value: string, sig: string) => s.holding(value, sig);
    const nothingChanged = () => s.nothingChanged();

    describe('stored XSS', () => {
      /** The tags and event-handler attributes of a page, outside text. */
      const markup = (html: string) => ({
        tags: [...html.matchAll(/<([a-zA-Z][\w-]*)/g)].map((m) => m[1]!.toLowerCase()),
        // Attribute names of every tag, quoted values skipped: a handler can only be a name.
        handlers: [
          ...html.matchAll(
            /<[a-zA-Z][^\s>/]*((?:\s+[^\s=>"']+(?:\s*=\s*(?:"[^"]*"|'[^']*'|[^\s>"']+))?)*)\s*\/?>/g,
          ),
        ]
          .flatMap((m) => [
            ...m[1]!.matchAll(/\s+([^\s=>"']+)(?:\s*=\s*(?:"[^"]*"|'[^']*'|[^\s>"']+))?/g),
          ])
          .map((a) => a[1]!.toLowerCase())
          .filter((name) => name.startsWith('on')),
        scripts: [...html.matchAll(/<script\b[^>]*>/gi)].map((m) => m[0]),
      });

      it('every value shown (agent ids and names, justifications, comments, names) stays text', async () => {
        // An agent whose id and name try to break out of attributes and text alike.
        const hostileId = `agent"><img src=x onerror=alert(3)>'`;
        const { registerNamedAgent } = await import('./account-fixture.ts');
        const { userToken } = await import('../helpers/agents.ts');
        const hostile = await registerNamedAgent(w.t, hostileId);
        await userToken(hostile, 'dev@example.com', 'approver password');
        await w.t.server.users.update(w.lead, { name: `Lee "<b onclick=alert(4)>" Lead` });
        const lead = await approver(w.t, 'lead@example.com');
        const pages: Array<[HttpBrowser, string]> = [
          [dev, '/account'],
          [lead, '/approvals'],
          [lead, `/approvals/${w.dev.pending}`],
          [dev, `/approvals/${w.other.pending}`],
        ];
        for (const [b, path] of pages) {
          const res = await b.request(url(path));
          expect(res.status, path).toBe(200);
          const html = await res.text();
          const m = markup(html);
          expect(m.tags, path).not.toContain('img');
          expect(m.tags, path).not.toContain('b');
          expect(m.handlers, path).toEqual([]);
          expect(m.scripts.length, path).toBeLessThanOrEqual(1);
          for (const s of m.scripts) expect(s).toBe('<script src="/static/local-time.js" defer>');
        }
        const account = await (await dev.request(url('/account'))).text();
        expect(account).toContain(
          'data-agent="agent&quot;&gt;&lt;img src=x onerror=alert(3)&gt;&#39;"',
        );
        // The hostile id is revocable through the form, as the page offers it.
        const csrf = hiddenField(account, 'csrf');
        const res = await postForm(dev, url('/account/agents/revoke'), { csrf, client: hostileId });
        expect(res.headers.get('location')).toBe('/account?done=revoked#notice');
        // A done value that is markup is never echoed.
        const done = await (
          await dev.request(url('/account?done=%3Cscript%3Ealert(5)%3C%2Fscript%3E'))
        ).text();
        expect(done).not.toContain('alert(5)');
        await w.t.server.users.update(w.lead, { name: 'Lee Lead' });
      });
    });

    describe('response headers', () => {
      it('every page and every refusal forbids framing, caching and foreign content; only /account may run a script', async () => {
        const csrf = await accountCsrf(dev, w.t);
        const requests: Array<[string, () => Promise<Response>]> = [
          ['/login', () => new HttpBrowser().request(url('/login'))],
          ['/approvals/login', () => new HttpBrowser().request(url('/approvals/login'))],
          ['/account', () => dev.request(url('/account'))],
          ['/approvals', () => dev.request(url('/approvals'))],
          ['own ticket 403', () => dev.request(url(`/approvals/${w.dev.pending}`))],
          ['unknown ticket 404', () => dev.request(url('/approvals/nope'))],
          ['/account signed out', () => new HttpBrowser().request(url('/account'))],
          ['login 401', () => signIn(w.t, 'dev@example.com', 'wrong').then((r) => r.res)],
          ['login 403', () => postForm(new HttpBrowser(), url('/login'), { csrf: 'x' })],
          [
            'account csrf 403',
            () => postForm(dev, url(`/account/tickets/${w.dev.pending}/cancel`), {}),
          ],
          ['account 404', () => postForm(dev, url('/account/tickets/nope/cancel'), { csrf })],
          ['account 400', () => postForm(dev, url('/account/agents/revoke'), { csrf })],
          ['logout 403', () => postForm(dev, url('/logout'), {})],
        ];
        for (const [what, send] of requests) {
          const res = await send();
          const csp = res.headers.get('content-security-policy') ?? '';
          expect(csp, what).toContain("default-src 'none'");
          expect(csp, what).toContain("frame-ancestors 'none'");
          expect(csp, what).toContain("form-action 'self'");
          expect(csp, what).not.toContain('unsafe-eval');
          expect(csp, what).not.toMatch(/script-src[^;]*unsafe-inline/);
          if (!what.startsWith('/account')) expect(csp, what).not.toContain('script-src');
          expect(res.headers.get('cache-control'), what).toBe('no-store');
          expect(res.headers.get('x-frame-options'), what).toBe('DENY');
          expect(res.headers.get('x-content-type-options'), what).toBe('nosniff');
          expect(res.headers.get('referrer-policy'), what).toBe('no-referrer');
        }
      });
    });

    describe('disabled and deleted users', () => {
      it("a disabled user's open session ends at once and stays ended for a copy of its cookie", async () => {
        const temp = await w.t.server.users.create({
          email: 'temp@example.com',
          name: 'Temp',
          password: 'approver password',
          roles: ['developer'],
          groups: ['tech-lead'],
        });
        const b = await approver(w.t, 'temp@example.com');
        const csrf = await accountCsrf(b, w.t);
        const value = b.cookie(w.t.url, SESSION_COOKIE)!;
        const sig = b.cookie(w.t.url, `${SESSION_COOKIE}.sig`)!;
        await w.t.server.users.update(temp.id, { disabled: true });
        for (const path of ['/account', '/approvals', `/approvals/${w.dev.pending}`]) {
          const res = await holding(value, sig).request(url(path));
          expect(res.status, path).toBe(303);
          expect(res.headers.get('location'), path).toMatch(/^\/login\?next=/);
        }
        const post = await postForm(
          holding(value, sig),
          url(`/approvals/${w.dev.pending}/decision`),
          {
            csrf,
            decision: 'approve',
          },
        );
        expect(post.status).toBe(303);
        expect(post.headers.get('location')).toMatch(/^\/login\?next=/);
        // The browser is told to drop the cookie.
        const res = await b.request(url('/account'));
        expect(res.headers.getSetCookie().join()).toMatch(new RegExp(`${SESSION_COOKIE}=;`));
        // Deleted: the same cookie names nobody.
        await w.t.server.users.delete(temp.id);
        expect((await holding(value, sig).request(url('/account'))).status).toBe(303);
        await nothingChanged();
      });
    });
  },
);
