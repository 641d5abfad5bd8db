/**
 * `rotateRefreshToken(ctx)`. Rules: refresh tokens are always rotated; what could still fail is
 * checked first (`checkRefreshBeforeRotation`: one resource, granted to this token, still known),
 * so a rejected refresh leaves the token usable.
 */
import type { Configuration } from 'oidc-provider';
import type { Catalogue } from '../../policy/index.ts';
import { knownResource } from '../resources.ts';
import { checkRefreshBeforeRotation } from '../refresh.ts';

export function rotateRefreshToken(deps: {
  catalogue: Catalogue;
  issuer: string;
}): Extract<Configuration['rotateRefreshToken'], (...args: never[]) => unknown> {
  return (ctx) => {
    checkRefreshBeforeRotation(
      ctx,
      (resource) => knownResource(deps.catalogue, deps.issuer, resource) !== undefined,
    );
    return true;
  };
}
