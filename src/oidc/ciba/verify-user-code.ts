/**
 * `features.ciba.verifyUserCode(ctx, account, userCode)`. Rule: this server issues no user codes,
 * so a request carrying `user_code` is refused (`invalid_user_code`).
 */
import { errors } from 'oidc-provider';
import type { CibaCallback } from './types.ts';

export const verifyUserCode: CibaCallback<'verifyUserCode'> = async (_ctx, _account, userCode) => {
  if (userCode) throw new errors.InvalidUserCode('user_code is not supported');
};
