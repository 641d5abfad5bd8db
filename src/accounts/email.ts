/**
 * The one spelling of an email address the server knows (ARCHITECTURE.md §8, one sign-in service):
 * Unicode NFKC (full-width letters, compatibility forms and no-break spaces become their plain
 * forms), surrounding white space removed, lower-cased. Account lookup, uniqueness, sign-in
 * throttling and audit records all use this spelling, so two spellings of one address can never
 * reach the same account under different throttle budgets.
 *
 * Idempotent: `normaliseEmail(normaliseEmail(x)) === normaliseEmail(x)`.
 *
 * @param input - an address as typed (any length; callers bound it).
 * @returns the normalised address; `''` for blank input.
 */
export function normaliseEmail(input: string): string {
  // NFKC first so that compatibility spaces (U+3000, U+00A0) become spaces trim() removes; NFKC
  // again after lower-casing because lower-casing can yield a sequence NFKC would recompose.
  return input.normalize('NFKC').trim().toLowerCase().normalize('NFKC');
}
