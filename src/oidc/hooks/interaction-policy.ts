/**
 * `interactions.policy`: oidc-provider's base prompts, with one check added to `login` — the
 * interactive step-up. Rule: a request for an approval-gated scope needs a sign-in younger than
 * `FRESH_LOGIN_SECONDS` (the gating rule's `sign_in_again`); an older session signs in again
 * before consent, so approvers can trust that the requester just proved who they are.
 */
import { interactionPolicy } from 'oidc-provider';
import type { Catalogue } from '../../policy/index.ts';
import { gate, scopeList } from '../../elevation/rules/index.ts';

export function interactionPolicyWithFreshSignIn(deps: {
  catalogue: Catalogue;
  currentDate: () => Date;
}): interactionPolicy.DefaultPolicy {
  const policy = interactionPolicy.base();
  policy.get('login')!.checks.add(
    new interactionPolicy.Check(
      'elevation_reauth',
      'approval-gated scopes need a recent sign-in',
      async (ctx) =>
        gate({
          catalogue: deps.catalogue,
          scopes: scopeList(ctx.oidc.params?.scope),
          authTime: ctx.oidc.session?.authTime(),
          now: deps.currentDate(),
        }).outcome === 'sign_in_again'
          ? interactionPolicy.Check.REQUEST_PROMPT
          : interactionPolicy.Check.NO_NEED_TO_PROMPT,
    ),
  );
  return policy;
}
