export { createPolicyClient, type PolicyClient, type PolicyClientStats } from './client.ts';
export { MAX_REVOCATION_POLL_MS, type PolicyClientOptions } from './options.ts';
export { PolicyClientError, type PolicyClientErrorCode } from './errors.ts';
export { POLICY_BUNDLE_PATH, POLICY_BUNDLE_TYP, type Policy } from './bundle.ts';
export { REVOCATIONS_PATH, REVOCATIONS_TYP } from './revocations.ts';
export type { Caller } from './decisions.ts';
export { argumentsSha256 } from './tool-binding.ts';
