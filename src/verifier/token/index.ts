export { createTokenVerifier } from './verifier.ts';
export { toAuthInfo } from './auth-info.ts';
export type { TokenVerifierOptions, FetchLike } from './options.ts';
export type { TokenVerifier, VerifiedToken, VerifyContext } from './types.ts';
