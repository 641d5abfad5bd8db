import type { AuthInfo } from '@modelcontextprotocol/sdk/server/auth/types.js';
import type { VerifiedToken } from './types.ts';

/**
 * Maps a verified token onto the MCP SDK's `AuthInfo` (what `req.auth` carries into the SDK's
 * transports and tool handlers). Our own fields travel in `extra`: `subject`, `roles`,
 * `elevation`, `jkt` and the full `claims`.
 */
export function toAuthInfo(verified: VerifiedToken): AuthInfo {
  return {
    token: verified.token,
    clientId: verified.clientId,
    scopes: verified.scopes,
    expiresAt: verified.expiresAt,
    resource: verified.resource,
    extra: {
      subject: verified.subject,
      roles: verified.roles,
      elevation: verified.elevation,
      jkt: verified.jkt,
      claims: verified.claims,
    },
  };
}
