import {
  generateRegistrationOptions,
  verifyRegistrationResponse,
  type PublicKeyCredentialCreationOptionsJSON,
  type RegistrationResponseJSON,
} from '@simplewebauthn/server';
import type { Kysely } from 'kysely';
import type { Database } from '../db/schema.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import type { ApproverAuthentication } from '../elevation/service.ts';
import { notFound } from '../errors.ts';
import { EXPIRED, challengeOf, parseResponse, passkeyInvalid } from './responses.ts';
import { DEFAULTS } from '../config/defaults.ts';
import { truncateCodePoints } from '../http/text.ts';
import { PasskeyRepository, summary, type PasskeySummary } from './repository.ts';
import { approvalOptions, expiry, verifyApproval, type CeremonyContext } from './approvals.ts';

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
  readonly #ceremony: CeremonyContext;

  constructor(deps: PasskeyServiceDeps) {
    this.#repo = new PasskeyRepository(deps.db);
    this.#audit = deps.audit;
    const issuer = new URL(deps.issuer);
    this.#ceremony = {
      repo: this.#repo,
      rpID: issuer.hostname,
      origin: issuer.origin,
      now: deps.currentDate ?? (() => new Date()),
    };
  }

  /** The user's passkeys, oldest first. */
  async list(userId: string): Promise<PasskeySummary[]> {
    return (await this.#repo.list(userId)).map(summary);
  }

  /** Options for `navigator.credentials.create` (a new passkey for `user`), with a stored challenge. */
  async registrationOptions(user: PasskeyUser): Promise<PublicKeyCredentialCreationOptionsJSON> {
    const existing = await this.#repo.list(user.id);
    const options = await generateRegistrationOptions({
      rpName: 'mcp-elevate',
      rpID: this.#ceremony.rpID,
      userName: user.email,
      userDisplayName: user.name || user.email,
      userID: new TextEncoder().encode(user.id),
      timeout: DEFAULTS.passkeyChallengeTtlSeconds * 1000,
      attestationType: 'none',
      excludeCredentials: existing.map((p) => ({ id: p.credential_id, transports: p.transports })),
      authenticatorSelection: { residentKey: 'preferred', userVerification: 'required' },
      supportedAlgorithmIDs: ALGORITHMS,
    });
    const now = this.#ceremony.now();
    await this.#repo.issue(
      options.challenge,
      { userId: user.id, purpose: 'register' },
      now,
      expiry(now),
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
    const now = this.#ceremony.now();
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
        expectedOrigin: this.#ceremony.origin,
        expectedRPID: this.#ceremony.rpID,
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
   * `ticketId` by `userId` (see {@link approvalOptions}).
   */
  approvalOptions(userId: string, ticketId: string, decision: 'approve' | 'deny') {
    return approvalOptions(this.#ceremony, userId, ticketId, decision);
  }

  /** Verifies an approval's assertion and consumes its challenge (see {@link verifyApproval}). */
  verifyApproval(
    userId: string,
    ticketId: string,
    decision: 'approve' | 'deny',
    responseJson: unknown,
    sessionAmr: readonly string[],
  ): Promise<ApproverAuthentication> {
    return verifyApproval(this.#ceremony, userId, ticketId, decision, responseJson, sessionAmr);
  }
}
