import { describe, expect, it } from 'vitest';
import { retryDelayMs } from '../../src/mail/backoff.ts';
import { credentialRedactor, linksForLog, redactUrls } from '../../src/mail/redact.ts';

describe('credential redaction', () => {
  it('removes the password in raw, URL-encoded and SASL base64 forms, and any URL userinfo', () => {
    const redact = credentialRedactor({ user: 'mailer', pass: 'p%40ss' });
    const plain = Buffer.from('\0mailer\0p@ss').toString('base64');
    const out = redact(
      `535 bad p@ss / p%40ss / ${plain} via smtp://mailer:p%40ss@host and https://x:y@other`,
    );
    expect(out).not.toMatch(/p@ss|p%40ss|mailer/);
    expect(out).not.toContain(plain);
    expect(out).not.toContain('x:y@');
    expect(redactUrls('smtps://u:pw@mail.example.com:465 refused')).toBe(
      'smtps://***@mail.example.com:465 refused',
    );
  });

  it('keeps error summaries short and on one line', () => {
    expect(redactUrls(`a\n b ${'x'.repeat(1000)}`)).toHaveLength(300);
    expect(redactUrls('a\n  b')).toBe('a b');
  });
});

describe('links for the log', () => {
  it('lists each http(s) link once, without trailing punctuation, masking secret-looking parameters', () => {
    const text =
      'See https://h.test/approvals/t1. Then https://h.test/approvals/t1, http://h.test/r?code=abc&x=1#frag and ftp://no';
    expect(linksForLog(text)).toEqual([
      'https://h.test/approvals/t1',
      'http://h.test/r?code=***&x=1#***',
    ]);
  });
});

describe('retry backoff', () => {
  it('starts near one second, doubles per failure and stops growing at five minutes', () => {
    const mid = { random: () => 0.5 };
    expect([1, 2, 3, 4].map((n) => retryDelayMs(n, mid))).toEqual([1_000, 2_000, 4_000, 8_000]);
    expect(retryDelayMs(20, mid)).toBe(300_000);
    expect(retryDelayMs(10_000, { random: () => 0.999 })).toBe(300_000);
  });

  it('spreads retries by ±25 % so that messages failing together do not return together', () => {
    expect(retryDelayMs(1, { random: () => 0 })).toBe(750);
    expect(retryDelayMs(1, { random: () => 0.999_999 })).toBe(1_250);
  });
});
