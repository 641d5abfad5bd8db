import { normaliseEmail } from '../accounts/email.ts';
import type { Upstream } from './config.ts';

/** What an upstream says about a person, read through its claim names. */
export interface UpstreamProfile {
  /** `sub`: with the issuer, the only stable key (OpenID Connect Core §5.7). */
  subject: string;
  /** Normalised with the server's one email spelling; empty when the upstream sent none. */
  email: string;
  /** `email_verified === true`: the upstream vouches for the address. */
  emailVerified: boolean;
  name: string;
}

const text = (v: unknown, max: number) => (typeof v === 'string' ? v.slice(0, max) : '');

/** The profile in a set of claims, by the upstream's claim names. */
export function profileOf(u: Upstream, claims: Record<string, unknown>): UpstreamProfile {
  return {
    subject: text(claims.sub, 255),
    email: normaliseEmail(text(claims[u.claims.email], 320 * 4)),
    emailVerified: claims.email_verified === true,
    name: text(claims[u.claims.name], 200).trim(),
  };
}

/**
 * The roles and approver groups an upstream's rules grant for these claims. Rule: a rule applies
 * when its claim equals `equals`, or, for a list claim (like `groups`), contains it; the grants of
 * every applying rule add up. Pure: plain data in, sorted names out.
 */
export function mappedAccess(
  u: Pick<Upstream, 'rules'>,
  claims: Record<string, unknown>,
): { roles: string[]; groups: string[] } {
  const roles = new Set<string>();
  const groups = new Set<string>();
  for (const rule of u.rules) {
    const value = claims[rule.claim];
    const applies = Array.isArray(value) ? value.includes(rule.equals) : value === rule.equals;
    if (!applies) continue;
    rule.roles.forEach((r) => roles.add(r));
    rule.groups.forEach((g) => groups.add(g));
  }
  return { roles: [...roles].sort(), groups: [...groups].sort() };
}
