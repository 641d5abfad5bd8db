import * as client from 'openid-client';

/**
 * One CIBA token poll for a request that is already decided (granted at once, approved, denied
 * or cancelled). openid-client waits the advertised `interval` before every poll, which proves
 * nothing once the outcome is known; this polls at once.
 */
export function pollDecided(
  config: client.Configuration,
  started: Parameters<typeof client.pollBackchannelAuthenticationGrant>[1],
  parameters?: URLSearchParams | Record<string, string>,
  options?: client.BackchannelAuthenticationGrantPollOptions,
): ReturnType<typeof client.pollBackchannelAuthenticationGrant> {
  return client.pollBackchannelAuthenticationGrant(
    config,
    { ...started, interval: 0 },
    parameters,
    options,
  );
}
