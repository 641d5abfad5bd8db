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
  // Walks both strings by code point in place: no copy of either (it runs for every permission
  // of every decision).
  let pi = 0;
  let si = 0;
  let star = -1; // index in pattern of the last `*` seen
  let resume = 0; // index in name that the last `*` currently absorbs up to
  while (si < name.length) {
    if (pi < pattern.length && pattern.charCodeAt(pi) === STAR) {
      star = pi++;
      resume = si;
    } else if (
      pi < pattern.length &&
      (pattern.charCodeAt(pi) === ANY || pattern.codePointAt(pi) === name.codePointAt(si))
    ) {
      pi += width(pattern, pi);
      si += width(name, si);
    } else if (star !== -1) {
      // Let the last `*` swallow one more character and retry from just after it.
      pi = star + 1;
      resume += width(name, resume);
      si = resume;
    } else {
      return false;
    }
  }
  while (pi < pattern.length && pattern.charCodeAt(pi) === STAR) pi++;
  return pi === pattern.length;
}

const STAR = 0x2a; // `*`
const ANY = 0x3f; // `?`

/** UTF-16 units of the code point at `i`: 2 for a surrogate pair, else 1 (a lone surrogate too). */
function width(text: string, i: number): number {
  return text.codePointAt(i)! > 0xffff ? 2 : 1;
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
