import * as oidc from 'openid-client';
import { AppError } from '../errors.ts';
import type { RequestInit } from 'undici';
import type { OutboundGuard } from '../http/outbound.ts';
import { DEFAULTS } from '../config/defaults.ts';
import type { Upstream } from './config.ts';

/** The checks of one sign-in, kept between its start and its callback. */
export interface SignInChecks {
  state: string;
  nonce: string;
  codeVerifier: string;
}

/** Marks a request that never got an answer (refused by the guard, connection error, timeout). */
class Unreachable extends Error {}

const unavailable = (u: Upstream) =>
  new AppError(
    'ERR_UPSTREAM_UNAVAILABLE',
    `${u.name} cannot be reached right now. Try again in a minute, or ask your administrator.`,
  );
const invalid = (u: Upstream) =>
  new AppError(
    'ERR_UPSTREAM_INVALID',
    `${u.name} sent an answer that could not be trusted, so the sign-in stopped. ` +
      'Try again; if it keeps happening, tell your administrator.',
  );

/** Whether `err`, or any error it was caused by, is an {@link Unreachable}. */
function unreachable(err: unknown): boolean {
  for (let e = err, i = 0; e && i < 8; e = (e as { cause?: unknown }).cause, i++)
    if (e instanceof Unreachable) return true;
  return false;
}

/**
 * The relying party side of enterprise sign-in: one openid-client `Configuration` per upstream.
 * Rules:
 * - discovery is lazy (the first sign-in through an upstream reads its metadata), so a server
 *   starts while an upstream is down; a failed discovery is retried after
 *   `federationDiscoveryRetryMs`, answered 503 meanwhile;
 * - every request to an upstream goes through the outbound guard (its address rules, time and
 *   size limits); `http:` only where the configuration admitted it;
 * - authorization code flow with PKCE (S256), `state` and `nonce`; the callback's `iss` (RFC 9207)
 *   is checked by the caller before {@link finish}, and again by openid-client;
 * - failures are answered in the product's words: unreachable → 503, anything the upstream sent
 *   that does not validate → 502, an `error` in the callback → 403. Messages never carry a secret
 *   or the upstream's own text.
 */
export class UpstreamClients {
  readonly #guard: OutboundGuard;
  readonly #redirectBase: string;
  readonly #configs = new Map<string, Promise<oidc.Configuration>>();
  readonly #failedAt = new Map<string, number>();

  /**
   * @param issuer - this server's issuer; redirect URIs are `<issuer>/federation/<id>/callback`.
   * @param guard - the outbound guard every upstream request goes through.
   */
  constructor(issuer: string, guard: OutboundGuard) {
    this.#guard = guard;
    this.#redirectBase = issuer;
  }

  /** The redirect URI registered at the upstream. */
  redirectUri(u: Upstream): string {
    return `${this.#redirectBase}/federation/${u.id}/callback`;
  }

  /** The upstream's configuration, discovered once; throws 503/502 {@link AppError}s. */
  async configuration(u: Upstream): Promise<oidc.Configuration> {
    const failed = this.#failedAt.get(u.id);
    if (failed !== undefined && Date.now() - failed < DEFAULTS.federationDiscoveryRetryMs)
      throw unavailable(u);
    let pending = this.#configs.get(u.id);
    if (!pending) {
      pending = this.#discover(u);
      this.#configs.set(u.id, pending);
      pending.catch(() => {
        this.#configs.delete(u.id);
        this.#failedAt.set(u.id, Date.now());
      });
    }
    try {
      return await pending;
    } catch (err) {
      throw unreachable(err) ? unavailable(u) : invalid(u);
    }
  }

  /** The URL to send the browser to. */
  async authorizationUrl(u: Upstream, checks: SignInChecks): Promise<URL> {
    const config = await this.configuration(u);
    return oidc.buildAuthorizationUrl(config, {
      redirect_uri: this.redirectUri(u),
      scope: u.scopes.join(' '),
      state: checks.state,
      nonce: checks.nonce,
      code_challenge: await oidc.calculatePKCECodeChallenge(checks.codeVerifier),
      code_challenge_method: 'S256',
    });
  }

  /** The issuer the callback's `iss` must name, and whether the upstream promises to send it. */
  async expectedIssuer(u: Upstream): Promise<{ issuer: string; required: boolean }> {
    const meta = (await this.configuration(u)).serverMetadata();
    return {
      issuer: meta.issuer,
      required: meta.authorization_response_iss_parameter_supported === true,
    };
  }

  /**
   * Redeems the callback's code and returns the person's claims: the ID token's, completed by
   * userinfo when the upstream has that endpoint (many put email and groups only there).
   */
  async finish(u: Upstream, callback: URL, checks: SignInChecks): Promise<Record<string, unknown>> {
    const config = await this.configuration(u);
    try {
      const tokens = await oidc.authorizationCodeGrant(config, callback, {
        pkceCodeVerifier: checks.codeVerifier,
        expectedState: checks.state,
        expectedNonce: checks.nonce,
        idTokenExpected: true,
      });
      const idClaims = tokens.claims()!;
      let info: Record<string, unknown> = {};
      if (config.serverMetadata().userinfo_endpoint)
        info = await oidc.fetchUserInfo(config, tokens.access_token, idClaims.sub);
      return { ...idClaims, ...info, sub: idClaims.sub, iss: idClaims.iss };
    } catch (err) {
      if (err instanceof oidc.AuthorizationResponseError)
        throw new AppError('ERR_UPSTREAM_DENIED', `${u.name} did not sign you in.`);
      throw unreachable(err) ? unavailable(u) : invalid(u);
    }
  }

  async #discover(u: Upstream): Promise<oidc.Configuration> {
    const auth = u.clientSecret ? oidc.ClientSecretBasic(u.clientSecret) : oidc.None();
    return oidc.discovery(new URL(u.issuer), u.clientId, undefined, auth, {
      [oidc.customFetch]: (url, options) => this.#fetch(url, options),
      ...(new URL(u.issuer).protocol === 'http:' ? { execute: [oidc.allowInsecureRequests] } : {}),
    });
  }

  async #fetch(url: string, options: oidc.CustomFetchOptions): Promise<Response> {
    try {
      return (await this.#guard.fetch(url, {
        method: options.method,
        headers: options.headers as Record<string, string>,
        body: options.body as RequestInit['body'],
        signal: options.signal,
      })) as unknown as Response;
    } catch (err) {
      throw new Unreachable('upstream unreachable', { cause: err });
    }
  }
}
