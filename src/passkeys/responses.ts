import { decodeClientDataJSON } from '@simplewebauthn/server/helpers';
import { AppError } from '../errors.ts';

/** An `ERR_PASSKEY_INVALID` with a message for the person. */
export const passkeyInvalid = (message: string) => new AppError('ERR_PASSKEY_INVALID', message);
/** The message of a challenge unknown, used or expired. */
export const EXPIRED = 'The passkey check expired or was already used. Try again.';

/** The assertion's or attestation's challenge, read from its client data; undefined if unreadable. */
export function challengeOf(response: {
  response?: { clientDataJSON?: unknown };
}): string | undefined {
  const data = response.response?.clientDataJSON;
  if (typeof data !== 'string' || data.length > 8192) return undefined;
  try {
    const { challenge } = decodeClientDataJSON(data);
    return typeof challenge === 'string' && /^[\w-]{16,128}$/.test(challenge)
      ? challenge
      : undefined;
  } catch {
    return undefined;
  }
}

/** A WebAuthn response posted as a JSON form field, or an `ERR_PASSKEY_INVALID`. */
export function parseResponse<T>(json: unknown): T & { id: string } {
  let value: unknown;
  try {
    value = typeof json === 'string' ? JSON.parse(json) : undefined;
  } catch {
    value = undefined;
  }
  const v = value as { id?: unknown; type?: unknown; response?: unknown } | undefined;
  if (!v || typeof v !== 'object' || typeof v.id !== 'string' || v.type !== 'public-key')
    throw passkeyInvalid('The passkey response is missing or malformed. Try again.');
  if (typeof v.response !== 'object' || v.response === null)
    throw passkeyInvalid('The passkey response is missing or malformed. Try again.');
  return v as T & { id: string };
}
