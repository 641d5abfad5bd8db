/**
 * `features.ciba.validateBindingMessage(ctx, bindingMessage)`. Rules: the `binding_message`
 * carries the justification approvers read, under the one justification rule
 * (`justificationProblem`, shared with the consent form): required when an approval-gated scope
 * is asked for, printable, not blank, at most 200 code points. A refused message is
 * `invalid_binding_message` (CIBA §13).
 */
import { errors } from 'oidc-provider';
import type { Catalogue } from '../../policy/index.ts';
import { gatedScopes, scopeList } from '../../elevation/rules/index.ts';
import { JUSTIFICATION_MESSAGES, justificationProblem } from '../../http/text.ts';
import type { CibaCallback } from './types.ts';

export function validateBindingMessage(deps: {
  catalogue: Catalogue;
}): CibaCallback<'validateBindingMessage'> {
  return async (ctx, bindingMessage) => {
    const gated = gatedScopes(deps.catalogue, scopeList(ctx.oidc.params?.scope)).length > 0;
    const problem = justificationProblem(bindingMessage, gated);
    if (problem)
      throw new errors.InvalidBindingMessage(`binding_message: ${JUSTIFICATION_MESSAGES[problem]}`);
  };
}
