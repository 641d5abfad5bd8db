import Keygrip from 'keygrip';
import { afterAll, beforeAll, expect } from 'vitest';
import { HttpBrowser } from '../helpers/browser.ts';
import { approver, ticketStatus } from '../approvals/fixture.ts';
import { SESSION_COOKIE, SESSION_PAGES } from '../../src/web/session.ts';
import { elevationRevoked, startAccountWorld, type AccountWorld } from './account-fixture.ts';

/**
 * What the attack tests share (test/web/attacks-*.test.ts): the account world with two signed-in
 * people, hostile `next` values, and cookies only the server could sign.
 */

export const FORM = { 'content-type': 'application/x-www-form-urlencoded' };

/** The `next` values that must never lead off the site's session pages. */
export const HOSTILE_NEXT = [
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

export const BASE = 'http://site.invalid';

/** Whether `location` keeps the browser on a session page of this site. */
export function staysOnSite(location: string | null): boolean {
  if (!location || !location.startsWith('/') || /^\/[/\\]/.test(location)) return false;
  if (/[\\\s]/.test(location) || location.length > 600) return false;
  const url = new URL(location, BASE);
  if (url.origin !== BASE) return false;
  if (/\/(login|logout)\/?$/i.test(url.pathname)) return false;
  return SESSION_PAGES.some((p) => url.pathname === p || url.pathname.startsWith(`${p}/`));
}

/** The world of one attack file: filled in before its tests. */
export class AttackScope {
  w!: AccountWorld;
  /** Signed in as the requester (`dev@example.com`) and as the outsider. */
  dev!: HttpBrowser;
  other!: HttpBrowser;

  url(path: string): string {
    return `${this.w.t.url}${path}`;
  }

  /** The signature of a session cookie value under the server's keys (only the server has them). */
  signed(value: string): string {
    const keys = (this.w.t.server.provider.app as unknown as { keys: string[] }).keys;
    return new Keygrip(keys).sign(`${SESSION_COOKIE}=${value}`);
  }

  /** A browser holding exactly this session cookie and signature (`'NONE'`: no `.sig` cookie). */
  holding(value: string, sig: string): HttpBrowser {
    const b = new HttpBrowser();
    b.jar.setCookieSync(`${SESSION_COOKIE}=${value}; Path=/`, this.w.t.url);
    if (sig !== 'NONE') b.jar.setCookieSync(`${SESSION_COOKIE}.sig=${sig}; Path=/`, this.w.t.url);
    return b;
  }

  /** Both people's elevations stand and their pending requests are still pending. */
  async nothingChanged(): Promise<void> {
    const { w } = this;
    expect(await elevationRevoked(w.t, w.dev.elevation)).toBe(false);
    expect(await elevationRevoked(w.t, w.other.elevation)).toBe(false);
    expect(await ticketStatus(w.t, w.dev.pending)).toBe('pending');
    expect(await ticketStatus(w.t, w.other.pending)).toBe('pending');
  }
}

/** Starts the account world for the tests of the calling `describe` and closes it after them. */
export function useAttackWorld(kind: 'pglite' | 'postgres'): AttackScope {
  const s = new AttackScope();
  beforeAll(async () => {
    s.w = await startAccountWorld(kind);
    s.dev = await approver(s.w.t, 'dev@example.com');
    s.other = await approver(s.w.t, 'outsider@example.com');
  }, 180_000);
  afterAll(async () => s.w?.t.close());
  return s;
}
