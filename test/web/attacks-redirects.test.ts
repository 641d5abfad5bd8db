import { beforeAll, describe, expect, it } from 'vitest';
import { databaseKinds } from '../helpers/databases.ts';
import { HttpBrowser, hiddenField } from '../helpers/browser.ts';
import { BASE, FORM, HOSTILE_NEXT, staysOnSite, useAttackWorld } from './attack-fixture.ts';

/**
 * Attacks on the web session pages, as a hostile site, a careless browser or a curious user would
 * make them; each a class of inputs tried on every entry point it applies to.
 * Open redirects through `next` on every sign-in entry point.
 */
describe.each(databaseKinds())(
  'attacks: open redirects through next: every sign-in entry point (%s)',
  (kind) => {
    const s = useAttackWorld(kind);
    let dev: HttpBrowser;
    beforeAll(() => {
      ({ dev } = s);
    });
    const url = (path: string) => s.url(path);
    const form = FORM;

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
  },
);
