import { describe, expect, it } from 'vitest';
import {
  CIRCULAR,
  REDACTED,
  TRUNCATED,
  redact,
} from '../../../src/verifier/observability/redact.ts';

describe('redact', () => {
  it('replaces the values of sensitive keys at any depth', () => {
    const input = {
      user: 'ann',
      password: 'p',
      nested: { deeper: { client_secret: 's', note: 'kept' } },
    };
    expect(redact(input)).toEqual({
      user: 'ann',
      password: REDACTED,
      nested: { deeper: { client_secret: REDACTED, note: 'kept' } },
    });
  });

  it('matches keys containing the words in any case, including every spelling of api key', () => {
    const input = {
      Password: 1,
      DB_PASSWORD: 2,
      accessToken: 3,
      REFRESH_TOKEN: 4,
      mySecretValue: 5,
      apikey: 6,
      ApiKey: 7,
      api_key: 8,
      'X-API-KEY': 9,
      apiKeyId: 10,
      service: 'kept',
    };
    const out = redact(input) as Record<string, unknown>;
    expect(Object.entries(out).filter(([, v]) => v !== REDACTED)).toEqual([['service', 'kept']]);
  });

  it('redacts inside objects within arrays, and whole objects held by a sensitive key', () => {
    const input = {
      items: [{ token: 't', id: 1 }, [{ secret: { a: 1 } }], 'plain'],
      credentials: { apiKey: { v: 1 } },
    };
    expect(redact(input)).toEqual({
      items: [{ token: REDACTED, id: 1 }, [{ secret: REDACTED }], 'plain'],
      credentials: { apiKey: REDACTED },
    });
  });

  it('never mutates its input', () => {
    const input = { password: 'p', list: [{ token: 't' }] };
    const before = structuredClone(input);
    redact(input);
    expect(input).toEqual(before);
  });

  it('survives cycles and keeps values shared by siblings', () => {
    const shared = { id: 1 };
    const node: Record<string, unknown> = { name: 'root', a: shared, b: shared };
    node.self = node;
    node.list = [node];
    expect(redact(node)).toEqual({
      name: 'root',
      a: { id: 1 },
      b: { id: 1 },
      self: CIRCULAR,
      list: [CIRCULAR],
    });
  });

  it('bounds the depth it copies', () => {
    let deep: Record<string, unknown> = { leaf: true };
    for (let i = 0; i < 100; i++) deep = { child: deep };
    const out = JSON.stringify(redact(deep, { maxDepth: 5 }));
    expect(out).toBe('{"child":{"child":{"child":{"child":{"child":"[Truncated]"}}}}}');
    expect(TRUNCATED).toBe('[Truncated]');
  });

  it('makes non-JSON values JSON-safe', () => {
    const out = redact({
      when: new Date('2024-01-02T03:04:05Z'),
      big: 10n,
      fn: () => 1,
      map: new Map([
        ['token', 'x'],
        ['k', 'v'],
      ]),
      set: new Set([1]),
    });
    expect(out).toEqual({
      when: '2024-01-02T03:04:05.000Z',
      big: '10',
      map: { token: REDACTED, k: 'v' },
      set: [1],
    });
  });

  it('passes primitives through', () => {
    expect(redact('password')).toBe('password');
    expect(redact(null)).toBe(null);
    expect(redact(3)).toBe(3);
  });
});
