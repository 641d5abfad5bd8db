import { describe, expect, it } from 'vitest';
import { safeNext } from '../../src/web/session.ts';
import { formatDuration, timeLeft } from '../../src/approvals/presenter.ts';

describe('where sign-in may lead (safeNext)', () => {
  it('keeps paths under /approvals, with their query', () => {
    expect(safeNext('/approvals')).toBe('/approvals');
    expect(safeNext('/approvals/abc-123')).toBe('/approvals/abc-123');
    expect(safeNext('/approvals/abc?done=approve')).toBe('/approvals/abc?done=approve');
  });

  it('sends anything off-site, odd or outside the approval pages to /approvals', () => {
    const hostile = [
      undefined,
      42,
      ['/approvals/x'],
      '',
      'approvals',
      'https://evil.example',
      'HTTPS://evil.example/approvals',
      '//evil.example',
      '///evil.example',
      '/\\evil.example',
      '/\t/evil.example',
      '/\n/evil.example',
      'javascript:alert(1)',
      '/approvals/../admin',
      '/approvals/%2e%2e/admin',
      '/approvalsx',
      '/approvals/login',
      '/approvals/logout',
      `/approvals/${'a'.repeat(600)}`,
    ];
    for (const next of hostile) expect(safeNext(next), String(next)).toBe('/approvals');
  });
});

describe('durations shown to approvers', () => {
  it('reads as words, singular where it should be', () => {
    expect(formatDuration(1800)).toBe('30 minutes');
    expect(formatDuration(3600)).toBe('1 hour');
    expect(formatDuration(5400)).toBe('1 hour 30 minutes');
    expect(formatDuration(61)).toBe('1 minute');
    expect(formatDuration(45)).toBe('45 seconds');
  });

  it('counts time left down and says expired once it is over', () => {
    const now = Date.UTC(2026, 0, 1);
    expect(timeLeft(new Date(now + 14 * 60_000 + 59_000), now)).toBe('14 minutes left');
    expect(timeLeft(new Date(now + 5_000), now)).toBe('5 seconds left');
    expect(timeLeft(new Date(now), now)).toBe('expired');
  });
});
