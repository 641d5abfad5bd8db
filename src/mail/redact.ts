import { truncateCodePoints } from '../http/text.ts';

/** Longest error summary kept in `mail_outbox.last_error` and in logs. */
export const MAX_ERROR_LENGTH = 300;

// Credentials in any URL (`smtp://user:pass@host`) whatever produced the text.
const URL_USERINFO = /\b([a-z][a-z0-9+.-]*:\/\/)[^/\s@]*@/gi;

/**
 * Builds a function that removes the given credentials from a text. Rules it enforces:
 * - the password in every form it may travel in: raw, URL-decoded, URL-encoded, base64, and the
 *   base64 of the SASL PLAIN blob (`\0user\0pass`) that an SMTP transcript would carry;
 * - the user name likewise, when it is long enough not to blank out ordinary words;
 * - any `scheme://userinfo@` in the text, whoever's it is;
 * - the result is cut to {@link MAX_ERROR_LENGTH} characters.
 */
export function credentialRedactor(credentials: {
  user?: string;
  pass?: string;
}): (text: string) => string {
  const secrets = new Set<string>();
  const add = (v: string | undefined, minLength: number) => {
    if (!v || v.length < minLength) return;
    for (const form of [v, safeDecode(v), encodeURIComponent(v), Buffer.from(v).toString('base64')])
      secrets.add(form);
  };
  add(credentials.pass, 1);
  add(credentials.user, 3);
  const user = safeDecode(credentials.user ?? '');
  const pass = safeDecode(credentials.pass ?? '');
  if (pass) {
    secrets.add(Buffer.from(`\0${user}\0${pass}`).toString('base64'));
    secrets.add(Buffer.from(`${user}\0${user}\0${pass}`).toString('base64'));
  }
  // Longest first, so a secret that contains another is removed whole.
  const ordered = [...secrets].filter(Boolean).sort((a, b) => b.length - a.length);
  return (text) => {
    let out = text.replace(URL_USERINFO, '$1***@');
    for (const s of ordered) out = out.split(s).join('***');
    // Kept storable as text: no NUL, no half of a surrogate pair, cut by code points.
    return truncateCodePoints(
      out
        .replace(/[\s\0]+/g, ' ')
        .trim()
        .toWellFormed(),
      MAX_ERROR_LENGTH,
    );
  };
}

/** Removes credentials of any URL and shortens the text; for errors from unknown sources. */
export const redactUrls: (text: string) => string = credentialRedactor({});

function safeDecode(v: string): string {
  try {
    return decodeURIComponent(v);
  } catch {
    return v;
  }
}

// Query parameters whose value may be a bearer secret (a reset token, a code) are masked in logs.
const SECRET_PARAM = /token|secret|code|key|pass|sig|auth|ticket/i;

/**
 * The http(s) links of a mail text, in order and without duplicates, with the values of
 * secret-looking query parameters masked, so that they can be logged (ARCHITECTURE.md §2: with no SMTP
 * server the approval links are logged) without logging a credential.
 */
export function linksForLog(text: string): string[] {
  const found = text.match(/https?:\/\/[^\s<>"')\]]+/g) ?? [];
  const out = new Set<string>();
  for (const raw of found) {
    try {
      const url = new URL(raw.replace(/[.,;:!?]+$/, ''));
      url.username = '';
      url.password = '';
      for (const name of [...url.searchParams.keys()]) {
        if (SECRET_PARAM.test(name)) url.searchParams.set(name, '***');
      }
      if (url.hash.length > 1) url.hash = '#***';
      out.add(url.toString());
    } catch {
      // Not a URL after all: nothing to log.
    }
  }
  return [...out];
}
