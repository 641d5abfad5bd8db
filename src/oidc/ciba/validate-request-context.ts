/**
 * `features.ciba.validateRequestContext(ctx, requestContext)`. It runs before the hint is
 * resolved (oidc-provider's checkCibaContext precedes cibaLoadAccount), so a request refused here
 * never reaches an account or a ticket. Rules:
 * - `id_token_hint` is refused (`invalid_request`): an ID token proves a past sign-in, not a live
 *   grant, and must not go around the `login_hint_token` rules;
 * - one `resource` per request (`invalid_target` for more): an elevation is for one MCP server.
 */
import { errors } from 'oidc-provider';
import { refuseHint } from './hint-refusal.ts';
import type { CibaCallback } from './types.ts';

export const validateRequestContext: CibaCallback<'validateRequestContext'> = async (ctx) => {
  const params = ctx.oidc.params!;
  if (params.id_token_hint !== undefined)
    throw refuseHint(
      'id_token_hint',
      new errors.InvalidRequest(
        'id_token_hint is not accepted: use login_hint_token (your current access token) or login_hint (your own client_id)',
      ),
    );
  if (Array.isArray(params.resource) && params.resource.length > 1)
    throw new errors.InvalidTarget('only one resource may be requested');
};
