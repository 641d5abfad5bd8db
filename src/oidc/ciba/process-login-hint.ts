/**
 * `features.ciba.processLoginHint(ctx, loginHint)` → the accountId. Rule: `login_hint` may only
 * be the requesting client's own id — the agent elevates itself, within its own roles; a user is
 * named only by `login_hint_token`. Anything else is `invalid_request`.
 */
import { errors } from 'oidc-provider';
import { refuseHint } from './hint-refusal.ts';
import type { CibaCallback } from './types.ts';

export const processLoginHint: CibaCallback<'processLoginHint'> = async (ctx, loginHint) => {
  if (loginHint !== ctx.oidc.client!.clientId)
    throw refuseHint(
      'login_hint',
      new errors.InvalidRequest(
        'login_hint must be your own client_id (or use login_hint_token for a user)',
      ),
    );
  return loginHint;
};
