import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { actionMatches, globMatch, permissionCovers } from '../../src/policy/index.ts';

/** Obviously-correct reference: memoised recursion straight from the definition, over code points. */
function referenceMatch(pattern: string, name: string): boolean {
  const p = Array.from(pattern);
  const s = Array.from(name);
  const memo = new Map<string, boolean>();
  const go = (i: number, j: number): boolean => {
    const key = `${i},${j}`;
    const cached = memo.get(key);
    if (cached !== undefined) return cached;
    let result: boolean;
    if (i === p.length) result = j === s.length;
    else if (p[i] === '*') result = go(i + 1, j) || (j < s.length && go(i, j + 1));
    else result = j < s.length && (p[i] === '?' || p[i] === s[j]) && go(i + 1, j + 1);
    memo.set(key, result);
    return result;
  };
  return go(0, 0);
}

/** Second reference: a RegExp with every non-wildcard character escaped. */
function regexMatch(pattern: string, name: string): boolean {
  const body = Array.from(pattern)
    .map((c) => (c === '*' ? '.*' : c === '?' ? '.' : c.replace(/[\\^$.*+?()[\]{}|/]/g, '\\$&')))
    .join('');
  return new RegExp(`^${body}$`, 'su').test(name);
}

const META = ['*', '?', '.', '+', '(', ')', '[', ']', '{', '}', '\\', '^', '$', '|', '-', '/'];
const char = fc.constantFrom('a', 'b', ':', '_', '😀', '\n', ...META);
const text = fc.array(char, { maxLength: 12 }).map((cs) => cs.join(''));
// With lone surrogates ('\uD83D', '\uDE00'), one code point each, which may also meet as a pair.
const anyText = fc
  .array(fc.oneof(char, fc.constantFrom('\uD83D', '\uDE00')), { maxLength: 12 })
  .map((cs) => cs.join(''));

describe('glob matching', () => {
  it('agrees with a literal reference matcher on random patterns full of regex metacharacters', () => {
    fc.assert(
      fc.property(anyText, anyText, (pattern, name) => {
        const expected = referenceMatch(pattern, name);
        expect(globMatch(pattern, name)).toBe(expected);
        expect(regexMatch(pattern, name)).toBe(expected);
      }),
      { numRuns: 3000 },
    );
  });

  it('matches every name produced by filling in the wildcards of a pattern', () => {
    const piece = fc.oneof(
      fc.record({ kind: fc.constant('star' as const), fill: text }),
      fc.record({ kind: fc.constant('one' as const), fill: char }),
      fc.record({
        kind: fc.constant('lit' as const),
        fill: char.filter((c) => c !== '*' && c !== '?'),
      }),
    );
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 10 }), (pieces) => {
        const pattern = pieces
          .map((p) => (p.kind === 'star' ? '*' : p.kind === 'one' ? '?' : p.fill))
          .join('');
        const name = pieces.map((p) => p.fill).join('');
        expect(globMatch(pattern, name)).toBe(true);
      }),
    );
  });

  it.each([
    ['tool:deploy.service', 'tool:deploy_service', false],
    ['tool:deploy.service', 'tool:deploy.service', true],
    ['tool:list_*', 'tool:list_services', true],
    ['tool:list_*', 'tool:list_', true],
    ['tool:list_*', 'tool:lis', false],
    ['resource:config:*', 'resource:config:db/main', true],
    ['tool:get_?', 'tool:get_ab', false],
    ['?', '😀', true],
    ['a+b', 'aab', false],
    ['[ab]', 'a', false],
    ['[ab]', '[ab]', true],
    ['\\*', '\\anything', true],
    ['^tool$', '^tool$', true],
    ['*', '', true],
    ['', '', true],
    ['', 'x', false],
  ])('treats only * and ? as special: %j vs %j → %s', (pattern, name, expected) => {
    expect(globMatch(pattern, name)).toBe(expected);
  });

  it('stays fast on patterns that make backtracking regex engines explode', () => {
    const name = 'a'.repeat(20_000);
    const started = performance.now();
    expect(globMatch(`${'a*'.repeat(50)}b`, name)).toBe(false);
    expect(performance.now() - started).toBeLessThan(2_000);
  });

  it('refuses non-string input as a caller bug', () => {
    expect(() => globMatch(undefined as unknown as string, 'x')).toThrow(TypeError);
  });
});

describe('action matching', () => {
  it('lets "*" allow every action and otherwise requires equality', () => {
    expect(actionMatches('*', 'invoke')).toBe(true);
    expect(actionMatches('invoke', 'invoke')).toBe(true);
    expect(actionMatches('read', 'invoke')).toBe(false);
    expect(actionMatches('inv*', 'invoke')).toBe(false);
  });

  it('requires both the resource glob and the action to cover a request', () => {
    const permission = { resource: 'resource:*', action: 'read' };
    expect(permissionCovers(permission, 'resource:config', 'read')).toBe(true);
    expect(permissionCovers(permission, 'resource:config', 'invoke')).toBe(false);
    expect(permissionCovers(permission, 'tool:config', 'read')).toBe(false);
  });
});
