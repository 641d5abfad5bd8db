import { createHash, randomBytes } from 'node:crypto';
import { HttpBrowser } from '../helpers/browser.ts';
import { completeAuthorization } from '../helpers/flows.ts';

/** A PKCE S256 pair (RFC 7636). */
export function pkce(): { verifier: string; challenge: string } {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

/** How a hand-written client differs from the MCP SDK's: each option is one client seen in use. */
export interface ClientBehaviour {
  clientId: string;
  /** `client_secret_post` sends the secret in the body; absent: a public client (`none`). */
  clientSecret?: string;
  /** `union` asks for what it held ∪ what the 403 challenged (SEP-2350); `replace` only the latter. */
  stepUp: 'union' | 'replace';
  /** Scopes of the first authorization request. */
  firstScope: string;
  /** Omits `resource` from refresh requests. */
  refreshWithoutResource?: boolean;
  /** How it spells the resource at each endpoint (the metadata's spelling when absent). */
  spell?: (resource: string, endpoint: 'authorize' | 'token' | 'refresh') => string;
}

export interface TokenSet {
  access_token: string;
  refresh_token?: string;
  scope: string;
}

/** What the MCP server answered to a tool call. */
export type CallOutcome =
  | { status: 200; result: { isError?: boolean; content: Array<{ text: string }> } }
  | { status: number; challenge: string | null };

const challengeParam = (header: string, name: string) =>
  new RegExp(`${name}="([^"]*)"`).exec(header)?.[1];

/**
 * A small OAuth 2.1 + MCP client on `fetch`: RFC 9728 discovery from the MCP server's 401,
 * RFC 8414 metadata, authorization code with PKCE (the sign-in done over HTTP like a browser),
 * refresh, and JSON-RPC tool calls over Streamable HTTP that step up on `403 insufficient_scope`.
 */
export class HandWrittenClient {
  readonly browser = new HttpBrowser();
  readonly requestedScopes: string[] = [];
  resource = '';
  tokens?: TokenSet;
  private metadata!: { authorization_endpoint: string; token_endpoint: string };
  private session?: string;
  private nextId = 1;

  readonly mcpUrl: string;
  readonly behaviour: ClientBehaviour;
  readonly user: { email: string; password: string };
  readonly redirectUri: string;

  constructor(
    mcpUrl: string,
    behaviour: ClientBehaviour,
    user: { email: string; password: string },
    redirectUri: string,
  ) {
    this.mcpUrl = mcpUrl;
    this.behaviour = behaviour;
    this.user = user;
    this.redirectUri = redirectUri;
  }

  /** From the MCP server's 401 to the authorization server's metadata. */
  async discover(): Promise<void> {
    const res = await fetch(this.mcpUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    if (res.status !== 401) throw new Error(`expected 401 from the MCP server, got ${res.status}`);
    const prmUrl = challengeParam(res.headers.get('www-authenticate') ?? '', 'resource_metadata');
    const prm = (await (await fetch(prmUrl!)).json()) as {
      resource: string;
      authorization_servers: string[];
    };
    this.resource = prm.resource;
    const issuer = prm.authorization_servers[0]!;
    const meta = await fetch(`${issuer}/.well-known/oauth-authorization-server`);
    this.metadata = (await meta.json()) as typeof this.metadata;
  }

  private spelled(endpoint: 'authorize' | 'token' | 'refresh'): string {
    return this.behaviour.spell?.(this.resource, endpoint) ?? this.resource;
  }

  private async token(params: Record<string, string>): Promise<Response> {
    const { clientId, clientSecret } = this.behaviour;
    return fetch(this.metadata.token_endpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        ...params,
        client_id: clientId,
        ...(clientSecret && { client_secret: clientSecret }),
      }),
    });
  }

  /** An authorization request for `scope`, the sign-in and consent, and the code exchange. */
  async authorize(scope: string, justification = 'matrix test'): Promise<TokenSet> {
    this.requestedScopes.push(scope);
    const { verifier, challenge } = pkce();
    const url = new URL(this.metadata.authorization_endpoint);
    url.search = new URLSearchParams({
      response_type: 'code',
      client_id: this.behaviour.clientId,
      redirect_uri: this.redirectUri,
      scope,
      resource: this.spelled('authorize'),
      code_challenge: challenge,
      code_challenge_method: 'S256',
      state: randomBytes(8).toString('hex'),
      // OpenID Connect Core §11: a refresh token is issued for offline_access only with consent.
      ...(scope.split(' ').includes('offline_access') && { prompt: 'consent' }),
    }).toString();
    const callback = await completeAuthorization({
      authorizationUrl: url.href,
      redirectUri: this.redirectUri,
      browser: this.browser,
      justification,
      ...this.user,
    });
    const code = callback.searchParams.get('code');
    if (!code) throw new Error(`authorization failed: ${callback.search}`);
    const res = await this.token({
      grant_type: 'authorization_code',
      code,
      redirect_uri: this.redirectUri,
      code_verifier: verifier,
      resource: this.spelled('token'),
    });
    if (res.status !== 200)
      throw new Error(`token endpoint answered ${res.status}: ${await res.text()}`);
    this.tokens = (await res.json()) as TokenSet;
    return this.tokens;
  }

  /** A refresh, as this client sends it; resolves with the raw response (tokens kept on 200). */
  async refresh(): Promise<Response> {
    const res = await this.token({
      grant_type: 'refresh_token',
      refresh_token: this.tokens!.refresh_token!,
      ...(!this.behaviour.refreshWithoutResource && { resource: this.spelled('refresh') }),
    });
    if (res.status === 200) this.tokens = (await res.clone().json()) as TokenSet;
    return res;
  }

  private async rpc(method: string, params: unknown, notification = false): Promise<Response> {
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      authorization: `Bearer ${this.tokens!.access_token}`,
    };
    if (this.session)
      Object.assign(headers, {
        'mcp-session-id': this.session,
        'mcp-protocol-version': '2025-06-18',
      });
    const body = { jsonrpc: '2.0', method, params, ...(!notification && { id: this.nextId++ }) };
    return fetch(this.mcpUrl, { method: 'POST', headers, body: JSON.stringify(body) });
  }

  private static async resultOf(res: Response): Promise<any> {
    const text = await res.text();
    // A JSON body, or an SSE stream whose data line carries the JSON-RPC response.
    const json = res.headers.get('content-type')?.includes('text/event-stream')
      ? /^data: (.*)$/m.exec(text)![1]!
      : text;
    const message = JSON.parse(json) as { result?: unknown; error?: unknown };
    if (message.error) throw new Error(`JSON-RPC error: ${JSON.stringify(message.error)}`);
    return message.result;
  }

  /** Opens an MCP session with the current token. */
  async initialize(): Promise<void> {
    this.session = undefined;
    const res = await this.rpc('initialize', {
      protocolVersion: '2025-06-18',
      capabilities: {},
      clientInfo: { name: 'hand-written', version: '1.0.0' },
    });
    if (res.status !== 200) throw new Error(`initialize answered ${res.status}`);
    await HandWrittenClient.resultOf(res);
    this.session = res.headers.get('mcp-session-id') ?? undefined;
    await (await this.rpc('notifications/initialized', {}, true)).body?.cancel();
  }

  /** One tools/call with the current token, as the MCP server answers it. */
  async callTool(name: string, args: Record<string, unknown>): Promise<CallOutcome> {
    const res = await this.rpc('tools/call', { name, arguments: args });
    if (res.status !== 200) {
      await res.body?.cancel();
      return { status: res.status, challenge: res.headers.get('www-authenticate') };
    }
    return { status: 200, result: await HandWrittenClient.resultOf(res) };
  }

  /** The scope this client asks for after a `403 insufficient_scope` naming `challenged`. */
  stepUpScope(challenged: string): string {
    if (this.behaviour.stepUp === 'replace') return challenged;
    const held = this.requestedScopes.at(-1)!.split(' ');
    return [...new Set([...held, ...challenged.split(' ')])].join(' ');
  }

  /** A tool call that steps up once on `403 insufficient_scope` and calls again. */
  async callWithStepUp(
    name: string,
    args: Record<string, unknown>,
  ): Promise<{ first: CallOutcome; last: CallOutcome }> {
    const first = await this.callTool(name, args);
    if (
      first.status !== 403 ||
      !('challenge' in first) ||
      !first.challenge?.includes('insufficient_scope')
    )
      return { first, last: first };
    await this.authorize(
      this.stepUpScope(challengeParam(first.challenge, 'scope')!),
      `step-up for ${name}`,
    );
    return { first, last: await this.callTool(name, args) };
  }
}
