import { beforeAll, describe, expect, it } from 'vitest';
import { databaseKinds } from '../helpers/databases.ts';
import { HttpBrowser } from '../helpers/browser.ts';
import { accountCsrf, postForm, type AccountWorld } from './account-fixture.ts';
import { FORM, useAttackWorld } from './attack-fixture.ts';

/**
 * Attacks on the web session pages, as a hostile site, a careless browser or a curious user would
 * make them; each a class of inputs tried on every entry point it applies to.
 * IDOR and odd ids on every account action, method confusion, and bad input that must never
 * be a 5xx.
 */
describe.each(databaseKinds())('attacks: IDOR, method confusion and bad input (%s)', (kind) => {
  const s = useAttackWorld(kind);
  let w: AccountWorld;
  let dev: HttpBrowser;
  beforeAll(() => {
    ({ w, dev } = s);
  });
  const url = (path: string) => s.url(path);
  const form = FORM;
  const nothingChanged = () => s.nothingChanged();

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
