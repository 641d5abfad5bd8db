import { describe, expect, it } from 'vitest';
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
