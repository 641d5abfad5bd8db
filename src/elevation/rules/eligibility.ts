import type { Catalogue, RoleGraph } from '../../policy/index.ts';
import { definition } from './scopes.ts';

/** Everything {@link firstIneligible} needs: plain data. */
export interface EligibilityInput {
  catalogue: Catalogue;
  /** The role graph (inheritance); only `satisfies` is used. */
  roles: Pick<RoleGraph, 'satisfies'>;
  /** The principal's directly assigned role names. */
  principalRoles: readonly string[];
  /** The scopes asked for; scopes without `minRole` need no role. */
  scopes: readonly string[];
}

/** The first scope the principal may not hold, and the role it needs. */
export interface Ineligibility {
  scope: string;
  requiredRole: string;
}

/**
 * Eligibility for elevation (ARCHITECTURE.md §6). Rule: every elevated scope needs its `minRole`, held
 * directly or through inheritance. Returns the first scope, in the order asked, whose role the
 * principal lacks; undefined when the principal may hold them all.
 */
export function firstIneligible(input: EligibilityInput): Ineligibility | undefined {
  for (const scope of input.scopes) {
    const requiredRole = definition(input.catalogue, scope)?.minRole;
    if (requiredRole && !input.roles.satisfies(input.principalRoles, requiredRole))
      return { scope, requiredRole };
  }
  return undefined;
}
