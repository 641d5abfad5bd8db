import Keygrip from 'keygrip';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { databaseKinds } from '../helpers/databases.ts';
import { HttpBrowser, hiddenField } from '../helpers/browser.ts';
import { approver, signIn, ticketStatus } from '../approvals/fixture.ts';
import { SESSION_COOKIE, SESSION_PAGES } from '../../src/web/session.ts';
import {
  accountCsrf,
  elevationRevoked,
  postForm,
  startAccountWorld,
  type AccountWorld,
} from './account-fixture.ts';

/**
 * The web session's pages attacked as a hostile site, a careless browser or a curious user would:
 * open redirects, session fixation and tampering, CSRF, IDOR, method confusion, headers and
 * malformed input. Each attack is a class of inputs, tried on every entry point it applies to.
 */

/** `next` values that must never lead off the site's session pages. */
const HOSTILE_NEXT = [
  '//evil.example',
  '//evil.example/approvals',
  '/%2f%2fevil.example',
  '/%2F%2Fevil.example/approvals',
  '/\\evil.example',
  '/approvals/\\evil.example',
  '\\\\evil.example',
  '/%5c%5cevil.example',
  '\t//evil.example',
  '/\t/evil.example',
  '/\n/evil.example',
  '/\r\n/evil.example',
  '/approvals\r\nSet-Cookie: x=y',
  '\u3000//evil.example',
  '\uff0f\uff0fevil.example',
  '/\uff0fevil.example',
  '/\u2215evil.example',
  'https://evil.example/approvals',
  'http:evil.example',
  'http:/evil.example/approvals',
  'javascript:alert(1)',
  'data:text/html,<script>alert(1)</script>',
  '/account/..%2f..%2fadmin',
  '/account/../admin',
  '/approvals/%2e%2e/%2e%2e/admin',
  '/approvals/..\\..\\admin',
  '/approvals@evil.example',
  '/approvals:80@evil.example',
  '/login',
  '/logout',
  '/approvals/login',
  '/approvals/logout',
  '/LOGIN',
  '/approvals/login/',
  '/approvals/LOGIN',
  '/account/Logout//',
  `/approvals/${'a'.repeat(600)}`,
  `/approvals?${'x'.repeat(3000)}`,
  '',
  ' ',
];

const BASE = 'http://site.invalid';

/** Whether `location` keeps the browser on a session page of this site. */
function staysOnSite(location: string | null): boolean {
  if (!location || !location.startsWith('/') || /^\/[/\\]/.test(location)) return false;
  if (/[\\\s]/.test(location) || location.length > 600) return false;
  const url = new URL(location, BASE);
  if (url.origin !== BASE) return false;
  if (/\/(login|logout)\/?$/i.test(url.pathname)) return false;
  return SESSION_PAGES.some((p) => url.pathname === p || url.pathname.startsWith(`${p}/`));
}

describe.each(databaseKinds())('attacks on the web session pages (%s)', (kind) => {
  let w: AccountWorld;
  let dev: HttpBrowser;
  let other: HttpBrowser;

  beforeAll(async () => {
    w = await startAccountWorld(kind);
    dev = await approver(w.t, 'dev@example.com');
    other = await approver(w.t, 'outsider@example.com');
  }, 180_000);
  afterAll(async () => w?.t.close());

  const url = (path: string) => `${w.t.url}${path}`;
  const form = { 'content-type': 'application/x-www-form-urlencoded' };
  /** A cookie value signed with the server's keys, as only the server could make it. */
  const signed = (value: string) => {
    const keys = (w.t.server.provider.app as unknown as { keys: string[] }).keys;
    return new Keygrip(keys).sign(`${SESSION_COOKIE}=${value}`);
  };
  /** A browser holding exactly this session cookie (and signature). */
  const holding = (value: string, sig: string) => {
    const b = new HttpBrowser();
    b.jar.setCookieSync(`${SESSION_COOKIE}=${value}; Path=/`, w.t.url);
    if (sig !== 'NONE') b.jar.setCookieSync(`${SESSION_COOKIE}.sig=${sig}; Path=/`, w.t.url);
    return b;
  };
  const nothingChanged = async () => {
    expect(await elevationRevoked(w.t, w.dev.elevation)).toBe(false);
    expect(await elevationRevoked(w.t, w.other.elevation)).toBe(false);
    expect(await ticketStatus(w.t, w.dev.pending)).toBe('pending');
    expect(await ticketStatus(w.t, w.other.pending)).toBe('pending');
  };

  describe('open redirects through next', () => {
    it('the sign-in form (both paths) keeps only a session page in its hidden next', async () => {
      for (const path of ['/login', '/approvals/login'])
        for (const next of HOSTILE_NEXT) {
          const res = await new HttpBrowser().request(
            url(`${path}?next=${encodeURIComponent(next)}`),
          );
          expect(res.status, `${path} ${JSON.stringify(next)}`).toBe(200);
          const kept = hiddenField(await res.text(), 'next').replace(/&amp;/g, '&');
          expect(staysOnSite(kept), `${path} ${JSON.stringify(next)} → ${kept}`).toBe(true);
        }
    });

    it('a signed-in visitor of the sign-in form goes only to a session page', async () => {
      for (const path of ['/login', '/approvals/login'])
        for (const next of HOSTILE_NEXT) {
          const res = await dev.request(url(`${path}?next=${encodeURIComponent(next)}`));
          expect(res.status).toBe(303);
          expect(staysOnSite(res.headers.get('location')), JSON.stringify(next)).toBe(true);
        }
    });

    it(
      'a successful sign-in (both paths, next in the body) goes only to a session page',
      { timeout: 240_000 },
      async () => {
        for (const path of ['/login', '/approvals/login'])
          for (const next of HOSTILE_NEXT) {
            const b = new HttpBrowser();
            const csrf = hiddenField(await (await b.request(url('/login'))).text(), 'csrf');
            const res = await b.request(url(path), {
              method: 'POST',
              headers: form,
              body: new URLSearchParams({
                csrf,
                next,
                email: 'lead@example.com',
                password: 'approver password',
              }),
            });
            expect(res.status, JSON.stringify(next)).toBe(303);
            expect(staysOnSite(res.headers.get('location')), JSON.stringify(next)).toBe(true);
          }
      },
    );

    it('next given twice, as an array or an object, falls back to the approvals page', async () => {
      for (const query of [
        'next=/account&next=//evil.example',
        'next[]=//evil.example',
        'next[a]=/account',
      ]) {
        const res = await new HttpBrowser().request(url(`/login?${query}`));
        expect(res.status).toBe(200);
        expect(hiddenField(await res.text(), 'next')).toBe('/approvals');
      }
    });

    it('a signed-out visit of any session page comes back to that page only', async () => {
      for (const path of [
        '/approvals/%2F%2Fevil.example',
        '/approvals/..%2f..%2flogin',
        '/account?x=//evil',
      ]) {
        const res = await new HttpBrowser().request(url(path));
        expect([303, 404]).toContain(res.status);
        if (res.status !== 303) continue;
        const login = new URL(res.headers.get('location')!, BASE);
        expect(login.pathname).toBe('/login');
        expect(staysOnSite(login.searchParams.get('next')), path).toBe(true);
      }
    });
  });

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
      const loginToken = hiddenField(await (await attacker.request(url('/login'))).text(), 'csrf');
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
      const b = await approver(w.t, 'dev@example.com');
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
      for (const csrf of [undefined, loginToken, foreign, 'forged', `${own}x`, own.toLowerCase()]) {
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

  describe('IDOR and odd ids on every account action', () => {
    const oddIds = [
      '..%2F..%2Fx',
      '%00',
      '%2e%2e',
      'a'.repeat(65),
      'a'.repeat(5000),
      '%F0%9D%94%9E',
      '%E2%80%AE',
      "'%20OR%201%3D1--",
      '%ZZ',
      '%E0%A4%A',
      'x%0d%0aSet-Cookie:%20a=b',
    ];
    it("another user's or a malformed elevation or request id is a 404 and changes nothing", async () => {
      const csrf = await accountCsrf(dev, w.t);
      for (const id of [w.other.elevation, w.other.pending, ...oddIds]) {
        for (const path of [`/account/elevations/${id}/drop`, `/account/tickets/${id}/cancel`]) {
          const res = await postForm(dev, url(path), { csrf });
          expect([400, 404], path).toContain(res.status);
        }
      }
      // An elevation id is no request id and the other way round.
      const swapped = await postForm(dev, url(`/account/tickets/${w.dev.elevation}/cancel`), {
        csrf,
      });
      expect(swapped.status).toBe(404);
      const swapped2 = await postForm(dev, url(`/account/elevations/${w.dev.pending}/drop`), {
        csrf,
      });
      expect(swapped2.status).toBe(404);
      await nothingChanged();
    });

    it('an agent id that is not one of mine (URLs, odd characters, case, very long) is a 404 or 400', async () => {
      const csrf = await accountCsrf(dev, w.t);
      const ids = [
        'https://evil.example/client.json',
        'AGENT',
        'agent ',
        ' agent',
        'agent\u0000',
        'agent\u200b',
        '𝔞gent',
        "' OR 1=1 --",
        '../agent',
        'a'.repeat(2049),
        'a'.repeat(100_000),
      ];
      for (const client of ids) {
        const res = await postForm(dev, url('/account/agents/revoke'), { csrf, client });
        expect([400, 404, 413], JSON.stringify(client.slice(0, 20))).toContain(res.status);
      }
      expect((await dev.request(url('/account'))).status).toBe(200);
      await nothingChanged();
    });
  });

  describe('method confusion', () => {
    it('GET, PUT, DELETE and OPTIONS on the posting routes do nothing and are 404', async () => {
      const csrf = await accountCsrf(dev, w.t);
      const paths = [
        `/account/elevations/${w.dev.elevation}/drop?csrf=${csrf}`,
        `/account/tickets/${w.dev.pending}/cancel?csrf=${csrf}`,
        `/account/agents/revoke?client=agent&csrf=${csrf}`,
        `/approvals/${w.dev.pending}/decision?decision=approve&csrf=${csrf}`,
      ];
      for (const path of paths)
        for (const method of ['GET', 'HEAD', 'PUT', 'DELETE', 'PATCH', 'OPTIONS']) {
          const res = await dev.request(url(path), { method });
          // OPTIONS only names the allowed methods; nothing else runs.
          if (method === 'OPTIONS') expect(res.headers.get('allow'), path).not.toMatch(/GET/);
          else expect([404, 405], `${method} ${path}`).toContain(res.status);
          expect(res.status, `${method} ${path}`).toBeLessThan(500);
        }
      await nothingChanged();
    });

    it('HEAD of a page answers like GET, without a body', async () => {
      for (const path of ['/account', '/approvals', '/login']) {
        const res = await dev.request(url(path), { method: 'HEAD' });
        expect([200, 303], path).toContain(res.status);
        expect(await res.text()).toBe('');
        expect(res.headers.get('cache-control'), path).toBe('no-store');
      }
    });
  });

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

  describe('bad input never answers 5xx', () => {
    it(
      'malformed, huge, mistyped, duplicated and nested form bodies on every post',
      { timeout: 180_000 },
      async () => {
        const csrf = await accountCsrf(dev, w.t);
        const paths = [
          '/login',
          '/approvals/login',
          '/logout',
          '/approvals/logout',
          `/account/elevations/${w.dev.elevation}/drop`,
          `/account/tickets/${w.dev.pending}/cancel`,
          '/account/agents/revoke',
          `/approvals/${w.dev.pending}/decision`,
          // The OAuth sign-in and consent forms read their bodies the same way.
          '/interaction/no-such-uid/login',
          '/interaction/no-such-uid/confirm',
        ];
        const bodies: Array<[string, Record<string, string>, string | Buffer]> = [
          ['bad escapes', form, `csrf=%E0%A4%A&next=%&email=%ZZ&client=%`],
          [
            'duplicates',
            form,
            `csrf=${csrf}&csrf=${csrf}&client=x&client=y&decision=deny&decision=approve`,
          ],
          [
            'arrays',
            form,
            `csrf[]=${csrf}&client[]=agent&decision[]=deny&email[]=a&password[]=b&next[]=/x`,
          ],
          [
            'objects',
            form,
            `csrf[a]=${csrf}&client[a][b]=agent&email[__proto__]=x&constructor[prototype]=y`,
          ],
          ['deep', form, `${'a'.repeat(1)}${'[a]'.repeat(500)}=1`],
          ['many fields', form, Array.from({ length: 5000 }, (_, i) => `f${i}=1`).join('&')],
          ['huge', form, `csrf=${csrf}&client=${'a'.repeat(2_000_000)}`],
          [
            'json',
            { 'content-type': 'application/json' },
            JSON.stringify({ csrf, client: 'agent' }),
          ],
          ['bad json', { 'content-type': 'application/json' }, '{"csrf":'],
          ['text', { 'content-type': 'text/plain' }, `csrf=${csrf}`],
          [
            'multipart',
            { 'content-type': 'multipart/form-data; boundary=x' },
            `--x\r\nContent-Disposition: form-data; name="csrf"\r\n\r\n${csrf}\r\n--x--`,
          ],
          ['no type', {}, `csrf=${csrf}`],
          [
            'odd charset',
            { 'content-type': 'application/x-www-form-urlencoded; charset=klingon' },
            `csrf=${csrf}`,
          ],
          [
            'utf-16',
            { 'content-type': 'application/x-www-form-urlencoded; charset=utf-16' },
            `csrf=${csrf}`,
          ],
          ['gzip garbage', { ...form, 'content-encoding': 'gzip' }, 'not gzip at all'],
          ['unknown encoding', { ...form, 'content-encoding': 'br2' }, `csrf=${csrf}`],
          ['binary', form, Buffer.from([0xff, 0xfe, 0x00, 0x80, 0x3d, 0x26])],
        ];
        for (const path of paths)
          for (const [what, headers, body] of bodies) {
            const res = await dev.request(url(path), { method: 'POST', headers, body });
            expect(res.status, `${what} → ${path}`).toBeLessThan(500);
            await res.arrayBuffer();
          }
        await nothingChanged();
      },
    );

    it('odd query strings on every page', async () => {
      const queries = [
        '?next=%',
        '?next=%E0%A4%A',
        '?done[]=dropped',
        '?done[a]=b',
        '?done=__proto__',
        '?done=constructor',
        '?next[__proto__]=x',
        `?${'a=1&'.repeat(3000)}`,
      ];
      for (const path of [
        '/login',
        '/approvals/login',
        '/account',
        '/approvals',
        `/approvals/${w.other.pending}`,
      ])
        for (const q of queries) {
          const res = await dev.request(url(`${path}${q}`));
          expect(res.status, `${path}${q}`).toBeLessThan(500);
        }
    });
  });
});
