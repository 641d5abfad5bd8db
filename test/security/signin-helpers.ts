import * as client from 'openid-client';
import { HttpBrowser, formAction, hiddenField } from '../helpers/browser.ts';
import type { TestServer } from '../helpers/server.ts';

const REDIRECT = 'http://127.0.0.1:9/cb';
const FORM = { 'content-type': 'application/x-www-form-urlencoded' };

/** The two password forms of the server, each posting one attempt and answering its status. */
export type SignInForm = (email: string, password: string) => Promise<number>;

/** A public client registered over DCR, as any MCP client would. */
export async function publicClient(t: TestServer): Promise<client.Configuration> {
  const reg = await fetch(`${t.url}/reg`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      client_name: 'Sign-in test',
      redirect_uris: [REDIRECT],
      token_endpoint_auth_method: 'none',
    }),
  });
  const { client_id } = (await reg.json()) as { client_id: string };
  return client.discovery(new URL(t.url), client_id, undefined, client.None(), {
    execute: [client.allowInsecureRequests],
  });
}

/** The authorization (OAuth) login form: opens an authorization request and posts its login page. */
export function oauthForm(t: TestServer, config: client.Configuration): SignInForm {
  return async (email, password) => {
    const browser = new HttpBrowser();
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: REDIRECT,
      resource: 'http://localhost:4000/mcp',
      scope: 'mcp:tools:read',
      code_challenge: 'a'.repeat(43),
      code_challenge_method: 'S256',
    });
    // Sent to this instance, whichever instance's issuer the client discovered.
    const step = await browser.follow(new URL(url.pathname + url.search, t.url).href, REDIRECT);
    const html = await step.res.text();
    const res = await browser.request(formAction(html, step.url), {
      method: 'POST',
      headers: FORM,
      body: new URLSearchParams({ csrf: hiddenField(html, 'csrf'), email, password }),
    });
    await res.arrayBuffer();
    // A successful sign-in hands the browser back to the authorization endpoint (a redirect).
    return res.status;
  };
}

/** The approval pages' login form. */
export function approvalsForm(t: TestServer): SignInForm {
  return async (email, password) => {
    const browser = new HttpBrowser();
    const page = await browser.request(`${t.url}/approvals/login`);
    const csrf = hiddenField(await page.text(), 'csrf');
    const res = await browser.request(`${t.url}/approvals/login`, {
      method: 'POST',
      headers: FORM,
      body: new URLSearchParams({ csrf, next: '/approvals', email, password }),
    });
    await res.arrayBuffer();
    return res.status;
  };
}

const fullWidth = (s: string) =>
  s.replace(/[!-~]/g, (c) => String.fromCodePoint(c.codePointAt(0)! + 0xfee0));
// MATHEMATICAL BOLD SMALL A..Z: NFKC compatibility forms of the plain letters.
const mathBold = (s: string) =>
  s.replace(/[a-z]/g, (c) => String.fromCodePoint(0x1d41a + c.charCodeAt(0) - 97));

/**
 * Spellings of an (ASCII, lower-case) email a person or an attacker might type: white space of
 * every kind around it, upper case, full-width letters, NFKC compatibility forms (mathematical
 * letters, the ideographic space). Each must reach the one account and its one budget.
 */
export function hostileSpellings(email: string): Record<string, string> {
  const [local, domain] = email.split('@') as [string, string];
  return {
    'leading space': ` ${email}`,
    'trailing space': `${email} `,
    'leading tab': `\t${email}`,
    'trailing no-break space': `${email}\u00a0`,
    'ideographic space': `\u3000${email}`,
    'upper case': `${local.toUpperCase()}@${domain[0]!.toUpperCase()}${domain.slice(1)}`,
    'full-width letters': fullWidth(email),
    'mathematical letters (NFKC compatibility forms)': `${mathBold(local)}@${domain}`,
  };
}
