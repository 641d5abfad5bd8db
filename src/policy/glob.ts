import type { Permission } from './schema.ts';

/**
 * Matches `name` against a glob where `*` matches any run of characters (including none) and `?`
 * exactly one character; every other character, `\` included, is literal. There is no escape.
 *
 * Why not a RegExp: patterns come from admins and catalogues, and a regex built from them invites
 * escaping bugs and catastrophic backtracking. This is the classic linear-space matcher that
 * remembers only the last `*`, so it runs in O(|pattern| × |name|) worst case and never recurses.
 * It compares Unicode code points, so `?` never matches half of a surrogate pair.
 */
export function globMatch(pattern: string, name: string): boolean {
  if (typeof pattern !== 'string' || typeof name !== 'string') {
    throw new TypeError('globMatch expects two strings');
  }
  const p = Array.from(pattern);
  const s = Array.from(name);
  let pi = 0;
  let si = 0;
  let star = -1; // index in p of the last `*` seen
  let resume = 0; // index in s that the last `*` currently absorbs up to
  while (si < s.length) {
    if (pi < p.length && p[pi] === '*') {
      star = pi++;
      resume = si;
    } else if (pi < p.length && (p[pi] === '?' || p[pi] === s[si])) {
      pi++;
      si++;
    } else if (star !== -1) {
      // Let the last `*` swallow one more character and retry from just after it.
      pi = star + 1;
      si = ++resume;
    } else {
      return false;
    }
  }
  while (pi < p.length && p[pi] === '*') pi++;
  return pi === p.length;
}

/** `*` allows any action; otherwise actions must be equal (actions are not globs). */
export function actionMatches(allowed: string, action: string): boolean {
  return allowed === '*' || allowed === action;
}

/** True when the permission's resource glob and action cover `resource`/`action` (conditions aside). */
export function permissionCovers(
  permission: Permission,
  resource: string,
  action: string,
): boolean {
  return actionMatches(permission.action, action) && globMatch(permission.resource, resource);
}
