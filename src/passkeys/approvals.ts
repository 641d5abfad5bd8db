import {
  generateAuthenticationOptions,
  verifyAuthenticationResponse,
  type AuthenticationResponseJSON,
  type PublicKeyCredentialRequestOptionsJSON,
} from '@simplewebauthn/server';
import type { ApproverAuthentication, PasskeyProof } from '../elevation/service.ts';
import { DEFAULTS } from '../config/defaults.ts';
import { EXPIRED, challengeOf, parseResponse, passkeyInvalid } from './responses.ts';
import type { PasskeyRepository } from './repository.ts';

/** What a ceremony works with: the passkey store, the relying party's identity and the clock. */
export interface CeremonyContext {
  repo: PasskeyRepository;
  /** ISSUER's host. */
  rpID: string;
  /** ISSUER's origin, the only origin accepted. */
  origin: string;
  now: () => Date;
}

/** When a challenge issued at `now` expires. */
export const expiry = (now: Date) =>
  new Date(now.getTime() + DEFAULTS.passkeyChallengeTtlSeconds * 1000);

/**
 * Options for `navigator.credentials.get` whose challenge is good only for `decision` on
 * `ticketId` by `userId`, with user verification required.
 * @throws {AppError} `ERR_PASSKEY_INVALID` when the user has no passkey.
 */
export async function approvalOptions(
  ctx: CeremonyContext,
  userId: string,
  ticketId: string,
  decision: 'approve' | 'deny',
): Promise<PublicKeyCredentialRequestOptionsJSON> {
  const mine = await ctx.repo.list(userId);
  if (!mine.length)
    throw passkeyInvalid('You have no passkey yet. Add one under “Your passkeys” first.');
  const options = await generateAuthenticationOptions({
    rpID: ctx.rpID,
    allowCredentials: mine.map((p) => ({ id: p.credential_id, transports: p.transports })),
    userVerification: 'required',
    timeout: DEFAULTS.passkeyChallengeTtlSeconds * 1000,
  });
  const now = ctx.now();
  await ctx.repo.issue(
    options.challenge,
    { userId, purpose: 'approve', ticketId, decision },
    now,
    expiry(now),
  );
  return options;
}

/**
 * Verifies an assertion (JSON) for `decision` on `ticketId` by `userId` and consumes its
 * challenge: what {@link ElevationService.decide} takes as proof. `sessionAmr` is how the web
 * session was signed in (`pwd`, `fed`).
 * @throws {AppError} `ERR_PASSKEY_INVALID`: malformed; challenge unknown, expired, used, or
 *   issued for another ticket, decision or user; a passkey not the user's; a bad signature or
 *   no user verification.
 */
export async function verifyApproval(
  ctx: CeremonyContext,
  userId: string,
  ticketId: string,
  decision: 'approve' | 'deny',
  responseJson: unknown,
  sessionAmr: readonly string[],
): Promise<ApproverAuthentication> {
  const response = parseResponse<AuthenticationResponseJSON>(responseJson);
  const challenge = challengeOf(response);
  const now = ctx.now();
  const issued = challenge && (await ctx.repo.consume(challenge, userId, 'approve', now));
  if (!issued) throw passkeyInvalid(EXPIRED);
  if (issued.ticketId !== ticketId || issued.decision !== decision)
    throw passkeyInvalid('This passkey check was made for another request or decision.');
  const passkey = await ctx.repo.byCredentialId(response.id);
  if (!passkey || passkey.user_id !== userId)
    throw passkeyInvalid('This passkey is not one of yours. Use a passkey you added here.');
  let verified;
  try {
    verified = await verifyAuthenticationResponse({
      response,
      expectedChallenge: challenge,
      expectedOrigin: ctx.origin,
      expectedRPID: ctx.rpID,
      credential: {
        id: passkey.credential_id,
        publicKey: new Uint8Array(passkey.public_key),
        counter: Number(passkey.counter),
        transports: passkey.transports,
      },
      requireUserVerification: true,
    });
  } catch {
    verified = undefined;
  }
  if (!verified?.verified || !verified.authenticationInfo.userVerified)
    throw passkeyInvalid('The passkey check failed. Try again.');
  const info = verified.authenticationInfo;
  await ctx.repo.used(passkey.id, info.newCounter, now, info.credentialBackedUp);
  const proof: PasskeyProof = {
    passkeyId: passkey.id,
    approverId: userId,
    ticketId,
    decision,
    issuedAt: issued.issuedAt,
    userVerified: info.userVerified,
  };
  // RFC 8176: `hwk` for a key bound to one device, `swk` for a synced one; `user` for the
  // authenticator's check of the person.
  const key = info.credentialDeviceType === 'multiDevice' ? 'swk' : 'hwk';
  return { amr: [...sessionAmr, key, 'user'], passkey: proof };
}
