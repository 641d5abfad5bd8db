/**
 * `features.ciba.processLoginHintToken(ctx, loginHintToken)` → the accountId (ARCHITECTURE.md §6). Rules:
 * - the hint must be a current access token of this server issued to the requesting client, for
 *   any resource this server knows (the agent's token may be for another MCP server than the one
 *   it now elevates for), DPoP-bound or not;
 * - it is checked by the server's one verifier of its own tokens (`OwnTokenVerifier`): signature, expiry, a user who
 *   still exists and is enabled, a grant that is still live (revoking it refuses every token of it
 *   as a hint at once), a live elevation when it carries one;
 * - an expired token is `expired_login_hint_token`; an unknown or disabled user is
 *   `unknown_user_id`; anything else is `invalid_request`.
 */
import { errors } from 'oidc-provider';
import { OwnTokenError } from '../../tokens/index.ts';
import { acceptedScopes } from '../resources.ts';
import { refuseHint } from './hint-refusal.ts';
import type { CibaCallback, CibaDeps } from './types.ts';

export function processLoginHintToken(
  deps: Pick<CibaDeps, 'catalogue' | 'issuer' | 'tokens'>,
): CibaCallback<'processLoginHintToken'> {
  const knownResource = (aud: string) =>
    acceptedScopes(deps.catalogue, deps.issuer, aud) !== undefined;
  return async (ctx, loginHintToken) => {
    try {
      const token = await deps.tokens.verify(loginHintToken ?? '', {
        audience: knownResource,
        clientId: ctx.oidc.client!.clientId,
        allowSenderConstrained: true,
      });
      return token.subject;
    } catch (err) {
      if (!(err instanceof OwnTokenError)) throw err;
      const refused = (error: Error) => refuseHint('login_hint_token', error);
      if (err.code === 'ERR_JWT_EXPIRED')
        throw refused(new errors.ExpiredLoginHintToken('login_hint_token has expired'));
      if (err.code === 'ERR_SUBJECT_UNKNOWN' || err.code === 'ERR_SUBJECT_DISABLED')
        throw refused(
          new errors.UnknownUserId('login_hint_token names an unknown or disabled user'),
        );
      throw refused(
        new errors.InvalidRequest(
          `login_hint_token is not a current access token of this server for this client: ${err.message}`,
        ),
      );
    }
  };
}
