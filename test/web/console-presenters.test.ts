import { describe, expect, it } from 'vitest';
import { layoutRoles } from '../../src/web/console/graph.ts';
import { badge, timeLeft, when } from '../../src/web/console/format.ts';

describe('console role graph', () => {
  const roles = [
    { name: 'developer', inherits: [] },
    { name: 'senior_developer', inherits: ['developer'] },
    { name: 'admin', inherits: ['senior_developer', 'developer'] },
    { name: 'auditor', inherits: [] },
  ];

  it('puts every role one row below the deepest role it inherits, so arrows point up', () => {
    const g = layoutRoles(roles);
    const y = (n: string) => g.nodes.find((x) => x.name === n)!.y;
    expect(y('developer')).toBe(y('auditor'));
    expect(y('senior_developer')).toBeGreaterThan(y('developer'));
    expect(y('admin')).toBeGreaterThan(y('senior_developer'));
    expect(g.edges).toHaveLength(3);
    for (const e of g.edges) expect(e.y1).toBeGreaterThan(e.y2);
  });

  it('keeps every box inside the picture and boxes of a row apart', () => {
    const g = layoutRoles(roles);
    for (const n of g.nodes) {
      expect(n.x).toBeGreaterThanOrEqual(0);
      expect(n.x + n.w).toBeLessThanOrEqual(g.width);
      expect(n.y + n.h).toBeLessThanOrEqual(g.height);
    }
    const top = g.nodes.filter((n) => n.y === g.nodes[0]!.y).sort((a, b) => a.x - b.x);
    expect(top[0]!.x + top[0]!.w).toBeLessThan(top[1]!.x);
  });

  it('draws a stored cycle without looping and ignores unknown parents', () => {
    const g = layoutRoles([
      { name: 'a', inherits: ['b', 'ghost'] },
      { name: 'b', inherits: ['a'] },
    ]);
    expect(g.nodes.map((n) => n.name).sort()).toEqual(['a', 'b']);
    expect(g.edges).toHaveLength(2);
  });
});

describe('console times and states', () => {
  const now = new Date('2026-11-30T10:00:00Z');

  it('writes times in UTC for <time datetime>', () => {
    expect(when('2026-11-30T10:05:07.123Z')).toEqual({
      iso: '2026-11-30T10:05:07.123Z',
      text: '2026-11-30 10:05:07 UTC',
    });
    expect(when(null)).toBeNull();
    expect(when('not a time')).toBeNull();
  });

  it('says how long is left in words', () => {
    expect(timeLeft('2026-11-30T10:12:30Z', now)).toBe('12 minutes left');
    expect(timeLeft('2026-11-30T11:01:00Z', now)).toBe('1 hour 1 minute left');
    expect(timeLeft('2026-11-30T12:00:00Z', now)).toBe('2 hours left');
    expect(timeLeft('2026-11-30T10:00:30Z', now)).toBe('less than a minute left');
    expect(timeLeft('2026-11-30T09:59:00Z', now)).toBe('ended');
  });

  it('gives states their badge', () => {
    expect(badge('live')).toBe('good');
    expect(badge('pending')).toBe('wait');
    expect(badge('revoked')).toBe('bad');
    expect(badge('lapsed')).toBe('off');
  });
});
