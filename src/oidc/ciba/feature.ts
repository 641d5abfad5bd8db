import type { CIBAEnabledConfiguration } from 'oidc-provider';
import { processLoginHint } from './process-login-hint.ts';
import { processLoginHintToken } from './process-login-hint-token.ts';
import { triggerAuthenticationDevice } from './trigger-authentication-device.ts';
import { validateBindingMessage } from './validate-binding-message.ts';
import { validateRequestContext } from './validate-request-context.ts';
import { verifyUserCode } from './verify-user-code.ts';
import type { CibaDeps } from './types.ts';

/**
 * oidc-provider's `features.ciba` for decoupled elevation (ARCHITECTURE.md §6), poll mode only. Each
 * callback is in a file of its own, named after it, that lists the rules it enforces. oidc-provider
 * calls them in this order: `validateRequestContext` and `validateBindingMessage` (together),
 * `processLoginHintToken` or `processLoginHint`, `verifyUserCode`, `triggerAuthenticationDevice`;
 * `resume.ts` completes a request once its ticket is decided, `responses.ts` rewrites responses.
 */
export function cibaFeature(deps: CibaDeps): CIBAEnabledConfiguration {
  return {
    enabled: true,
    deliveryModes: ['poll'],
    validateRequestContext,
    validateBindingMessage: validateBindingMessage(deps),
    processLoginHintToken: processLoginHintToken(deps),
    processLoginHint,
    verifyUserCode,
    triggerAuthenticationDevice: triggerAuthenticationDevice(deps),
  };
}
