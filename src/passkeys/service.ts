import {
  generateAuthenticationOptions,
  generateRegistrationOptions,
  verifyAuthenticationResponse,
  verifyRegistrationResponse,
  type AuthenticationResponseJSON,
  type PublicKeyCredentialCreationOptionsJSON,
  type PublicKeyCredentialRequestOptionsJSON,
  type RegistrationResponseJSON,
} from '@simplewebauthn/server';
import type { Kysely } from 'kysely';
import type { Database } from '../db/schema.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import type { ApproverAuthentication, PasskeyProof } from '../elevation/service.ts';
import { notFound } from '../errors.ts';
import { EXPIRED, challengeOf, parseResponse, passkeyInvalid } from './responses.ts';
import { DEFAULTS } from '../config/defaults.ts';
import { truncateCodePoints } from '../http/text.ts';
import { PasskeyRepository, summary, type PasskeySummary } from './repository.ts';

export type { PasskeySummary } from './repository.ts';

/** Dependencies of {@link PasskeyService}. */
export interface PasskeyServiceDeps {
  db: Kysely<Database>;
  audit: AuditLog;
  /** The server's ISSUER: its host is the WebAuthn RP ID, its origin the only accepted origin. */
  issuer: string;
  /** Clock of challenge expiry. Default `() => new Date()`. */
  currentDate?: () => Date;
}

/** Who is enrolling or asserting. */
export interface PasskeyUser {
  id: string;
  email: string;
  name: string;
}

/**
 * COSE algorithms offered and accepted: EdDSA, ES256, RS256 (SimpleWebAuthn's classic defaults).
 * Named here so that the library does not probe the runtime's experimental ML-DSA support.
 */
const ALGORITHMS = [-8, -7, -257];

/**
 * Passkeys (WebAuthn, W3C Level 3) of approvers: enrolment, removal, and the assertions that
 * approve tickets whose scopes need one (ARCHITECTURE.md). Rules it enforces:
 * - the RP ID is ISSUER's host and the only origin accepted is ISSUER's origin;
 * - user verification is required, at enrolment and at every assertion;
 * - every challenge is issued by this service, stored with what it is for (user, purpose, and for
 *   an approval the ticket and the decision), consumed once, within
 *   `DEFAULTS.passkeyChallengeTtlSeconds`, on whichever instance receives the response;
 * - an assertion counts only with a passkey of the same user, and its signature counter is kept;
 * - enrolment and removal are audited (`passkey.registered`, `passkey.removed`) with our passkey
 *   id and name, never key material or challenges.
 */
export class PasskeyService {
  readonly #repo: PasskeyRepository;
  readonly #audit: AuditLog;
  readonly #rpID: string;
  readonly #origin: string;
  readonly #now: () => Date;

  constructor(deps: PasskeyServiceDeps) {
    this.#repo = new PasskeyRepository(deps.db);
    this.#audit = deps.audit;
    const issuer = new URL(deps.issuer);
    this.#rpID = issuer.hostname;
    this.#origin = issuer.origin;
    this.#now = deps.currentDate ?? (() => new Date());
  }

  /** The user's passkeys, oldest first. */
  async list(userId: string): Promise<PasskeySummary[]> {
    return (await this.#repo.list(userId)).map(summary);
  }

  #expiry(now: Date): Date {
    return new Date(now.getTime() + DEFAULTS.passkeyChallengeTtlSeconds * 1000);
  }

  /** Options for `navigator.credentials.create` (a new passkey for `user`), with a stored challenge. */
  async registrationOptions(user: PasskeyUser): Promise<PublicKeyCredentialCreationOptionsJSON> {
    const existing = await this.#repo.list(user.id);
    const options = await generateRegistrationOptions({
      rpName: 'mcp-elevate',
      rpID: this.#rpID,
      userName: user.email,
      userDisplayName: user.name || user.email,
      userID: new TextEncoder().encode(user.id),
      timeout: DEFAULTS.passkeyChallengeTtlSeconds * 1000,
      attestationType: 'none',
      excludeCredentials: existing.map((p) => ({ id: p.credential_id, transports: p.transports })),
      authenticatorSelection: { residentKey: 'preferred', userVerification: 'required' },
      supportedAlgorithmIDs: ALGORITHMS,
    });
    const now = this.#now();
    await this.#repo.issue(
      options.challenge,
      { userId: user.id, purpose: 'register' },
      now,
      this.#expiry(now),
    );
    return options;
  }

  /**
   * Verifies a registration response (JSON) against a challenge issued to `user`, and stores the
   * passkey under `name`.
   * @throws {AppError} `ERR_PASSKEY_INVALID` (bad, expired or replayed response; too many
   *   passkeys; a credential already registered).
   */
  async register(user: PasskeyUser, responseJson: unknown, name: unknown): Promise<PasskeySummary> {
    const response = parseResponse<RegistrationResponseJSON>(responseJson);
    const challenge = challengeOf(response);
    const now = this.#now();
    if (!challenge || !(await this.#repo.consume(challenge, user.id, 'register', now)))
      throw passkeyInvalid(EXPIRED);
    if ((await this.#repo.list(user.id)).length >= DEFAULTS.passkeysPerUser)
      throw passkeyInvalid(
        `You already have ${DEFAULTS.passkeysPerUser} passkeys; remove one first.`,
      );
    let verified;
    try {
      verified = await verifyRegistrationResponse({
        response,
        expectedChallenge: challenge,
        expectedOrigin: this.#origin,
        expectedRPID: this.#rpID,
        requireUserVerification: true,
        supportedAlgorithmIDs: ALGORITHMS,
      });
    } catch {
      verified = undefined;
    }
    if (!verified?.verified) throw passkeyInvalid('The passkey could not be verified. Try again.');
    const info = verified.registrationInfo;
    const label =
      typeof name === 'string'
        ? truncateCodePoints(name.trim(), DEFAULTS.passkeyNameMaxCodePoints)
        : '';
    const row = await this.#repo.insert({
      credentialId: info.credential.id,
      userId: user.id,
      publicKey: info.credential.publicKey,
      counter: info.credential.counter,
      transports: info.credential.transports ?? [],
      deviceType: info.credentialDeviceType,
      backedUp: info.credentialBackedUp,
      name: label || 'Passkey',
    });
    if (!row) throw passkeyInvalid('This passkey is already registered.');
    await this.#audit.append({
      action: 'passkey.registered',
      result: 'success',
      actor: user.id,
      subject: user.id,
      data: {
        passkey: row.id,
        name: row.name,
        deviceType: row.device_type,
        backedUp: row.backed_up,
      },
    });
    return summary(row);
  }

  /**
   * Removes one of the user's own passkeys.
   * @throws {AppError} `ERR_NOT_FOUND` when it is not theirs or already gone.
   */
  async remove(userId: string, passkeyId: string): Promise<void> {
    const row = /^[\w-]{1,64}$/.test(passkeyId)
      ? await this.#repo.remove(userId, passkeyId)
      : undefined;
    if (!row) throw notFound('passkey');
    await this.#audit.append({
      action: 'passkey.removed',
      result: 'success',
      actor: userId,
      subject: userId,
      data: { passkey: row.id, name: row.name },
    });
  }

  /**
   * Options for `navigator.credentials.get` whose challenge is good only for `decision` on
   * `ticketId` by `userId`, with user verification required.
   * @throws {AppError} `ERR_PASSKEY_INVALID` when the user has no passkey.
   */
  async approvalOptions(
    userId: string,
    ticketId: string,
    decision: 'approve' | 'deny',
  ): Promise<PublicKeyCredentialRequestOptionsJSON> {
    const mine = await this.#repo.list(userId);
    if (!mine.length)
      throw passkeyInvalid('You have no passkey yet. Add one under “Your passkeys” first.');
    const options = await generateAuthenticationOptions({
      rpID: this.#rpID,
      allowCredentials: mine.map((p) => ({ id: p.credential_id, transports: p.transports })),
      userVerification: 'required',
      timeout: DEFAULTS.passkeyChallengeTtlSeconds * 1000,
    });
    const now = this.#now();
    await this.#repo.issue(
      options.challenge,
      { userId, purpose: 'approve', ticketId, decision },
      now,
      this.#expiry(now),
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
  async verifyApproval(
    userId: string,
    ticketId: string,
    decision: 'approve' | 'deny',
    responseJson: unknown,
    sessionAmr: readonly string[],
  ): Promise<ApproverAuthentication> {
    const response = parseResponse<AuthenticationResponseJSON>(responseJson);
    const challenge = challengeOf(response);
    const now = this.#now();
    const issued = challenge && (await this.#repo.consume(challenge, userId, 'approve', now));
    if (!issued) throw passkeyInvalid(EXPIRED);
    if (issued.ticketId !== ticketId || issued.decision !== decision)
      throw passkeyInvalid('This passkey check was made for another request or decision.');
    const passkey = await this.#repo.byCredentialId(response.id);
    if (!passkey || passkey.user_id !== userId)
      throw passkeyInvalid('This passkey is not one of yours. Use a passkey you added here.');
    let verified;
    try {
      verified = await verifyAuthenticationResponse({
        response,
        expectedChallenge: challenge,
        expectedOrigin: this.#origin,
        expectedRPID: this.#rpID,
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
    await this.#repo.used(passkey.id, info.newCounter, now, info.credentialBackedUp);
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
}
