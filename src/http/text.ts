/**
 * Text rules shared by every edge. Lengths are counted and cut in Unicode code points, never in
 * UTF-16 code units: a cut in code units can split an emoji into a lone surrogate, which
 * PostgreSQL (UTF-8) cannot store and a mail or page cannot show.
 */

import { DEFAULTS } from '../config/defaults.ts';

/** Why a string cannot be stored as text: `nul` (U+0000) or `lone_surrogate`. */
export type UnsafeText = 'nul' | 'lone_surrogate';

/**
 * Whether `text` holds a character that PostgreSQL text and jsonb refuse: U+0000, or a UTF-16
 * surrogate without its pair (not well-formed Unicode).
 *
 * @returns the reason, or undefined for storable text.
 */
export function unsafeText(text: string): UnsafeText | undefined {
  if (text.includes('\0')) return 'nul';
  if (!text.isWellFormed()) return 'lone_surrogate';
  return undefined;
}

/** The number of Unicode code points in `text` (a surrogate pair counts once). */
export function codePointLength(text: string): number {
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    // A high surrogate followed by a low one is one code point.
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
      const d = text.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) i++;
    }
    n++;
  }
  return n;
}

/**
 * `text` cut to at most `max` code points: a surrogate pair is kept whole or left out whole, so the
 * result is well-formed whenever the input is.
 *
 * @param max Largest number of code points kept (a non-negative integer).
 * @throws {TypeError} when `max` is not a non-negative integer.
 */
export function truncateCodePoints(text: string, max: number): string {
  if (!Number.isInteger(max) || max < 0) throw new TypeError('max must be a non-negative integer');
  // Fast path: a string of at most `max` code units has at most `max` code points.
  if (text.length <= max) return text;
  let i = 0;
  for (let n = 0; n < max && i < text.length; n++) {
    const c = text.charCodeAt(i);
    const d = text.charCodeAt(i + 1);
    i += c >= 0xd800 && c <= 0xdbff && d >= 0xdc00 && d <= 0xdfff ? 2 : 1;
  }
  return text.slice(0, i);
}

/** Largest justification (CIBA `binding_message`, consent form), in code points. */
export const JUSTIFICATION_MAX = DEFAULTS.justificationMaxCodePoints;

/** Why a justification is refused (see {@link justificationProblem}). */
export type JustificationProblem = 'missing' | 'blank' | 'too_long' | 'unprintable';

// Cc: C0/C1 controls (NUL, tab, line breaks, ESC …). Cf: invisible format characters: bidi
// overrides and isolates (U+202E shows `txt.exe` as `exe.txt`), zero-width space and joiners,
// the byte order mark, the soft hyphen. Line and paragraph separators (Zl, Zp) break lines like
// a newline does. Lone surrogates (Cs) cannot be shown at all.
const UNPRINTABLE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}]/u;
// Blank: nothing but white space (any Unicode space, NBSP included).
const BLANK = /^[\p{White_Space}]*$/u;

/**
 * The one rule for a justification shown to approvers, on every channel (CIBA `binding_message`,
 * the consent form). Rules, in order:
 * - required when the request asks for an approval-gated scope (`missing` when absent or empty);
 * - not blank: white space only (spaces, NBSP …) is no reason (`blank`);
 * - printable: no control (Cc), format (Cf: bidi, zero-width, BOM, soft hyphen), line or
 *   paragraph separator, nor lone surrogate (`unprintable`);
 * - at most {@link JUSTIFICATION_MAX} code points (`too_long`).
 *
 * @param text The justification as sent (undefined when the request had none).
 * @param required Whether the request needs one (it asks for an approval-gated scope).
 * @returns the problem, or undefined when the justification may be shown as it is.
 */
export function justificationProblem(
  text: string | undefined,
  required: boolean,
): JustificationProblem | undefined {
  if (text === undefined || text === '') return required ? 'missing' : undefined;
  if (UNPRINTABLE.test(text)) return 'unprintable';
  if (BLANK.test(text)) return 'blank';
  if (codePointLength(text) > JUSTIFICATION_MAX) return 'too_long';
  return undefined;
}

/** A sentence for each {@link JustificationProblem}, fit for a form or an OAuth error. */
export const JUSTIFICATION_MESSAGES: Readonly<Record<JustificationProblem, string>> = Object.freeze(
  {
    missing: 'a justification is required for approval-gated scopes',
    blank: 'the justification must not be blank',
    too_long: `the justification must be at most ${JUSTIFICATION_MAX} characters`,
    unprintable:
      'the justification must be one line of printable text ' +
      '(no control, invisible or direction-changing characters)',
  },
);
