import { createServer } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  InsufficientScopeError,
  InvalidTokenError,
  MissingTokenError,
  TemporarilyUnavailableError,
} from '../../../src/verifier/errors.ts';
import { challenge, quoteHeaderValue } from '../../../src/verifier/http/challenge.ts';
import { writeGuardResponse } from '../../../src/verifier/http/node.ts';
import { createTokenVerifier } from '../../../src/verifier/token/verifier.ts';
import { signAccessToken, startIssuer, type TestIssuer } from '../token/fixtures.ts';
import {
  DEFAULT_DPOP_ALGS,
  listen,
  postJsonRpc,
  send,
  startGuardedServer,
  type Started,
} from './fixtures.ts';

let issuer: TestIssuer;
let mcp: Started;
let resource: string;
let metadata: string;
const algs = DEFAULT_DPOP_ALGS;

beforeAll(async () => {
  issuer = await startIssuer();
  mcp = await startGuardedServer((base) => ({
    verifier: createTokenVerifier({ issuer: issuer.issuer, resource: `${base}/mcp` }),
    baseScopes: ['mcp:read', 'mcp:tools'],
    decide: (_auth, call) =>
      call.name === 'deploy_service'
        ? { decision: 'step_up', scopes: ['deploy:prod', 'mcp:read'] }
        : { decision: 'allow' },
  }));
  resource = `${mcp.url}/mcp`;
  metadata = `${mcp.url}/.well-known/oauth-protected-resource/mcp`;
});
afterAll(async () => {
  await mcp.close();
  await issuer.close();
});

/** Splits a challenge's auth-params, honouring quoted-strings and their escapes (RFC 7235). */
function parseParams(header: string): Array<[string, string]> {
  const params: Array<[string, string]> = [];
  const re = /\s*([\w-]+)="((?:[^"\\]|\\.)*)"\s*(?:,|$)/gy;
  re.lastIndex = header.indexOf(' ') + 1;
  let match: RegExpExecArray | null;
  while ((match = re.exec(header)) !== null) {
    params.push([match[1], match[2].replace(/\\(.)/g, '$1')]);
    if (re.lastIndex >= header.length) break;
  }
  return params;
}

describe('WWW-Authenticate challenges', () => {
  it('answers a request without a token with 401 and only resource_metadata', async () => {
    const reply = await send(resource);
    expect(reply.status).toBe(401);
    expect(reply.headers['www-authenticate']).toBe(
      `Bearer resource_metadata="${metadata}", DPoP algs="${algs}", resource_metadata="${metadata}"`,
    );
  });

  it('answers a bad token with 401 invalid_token and a description', async () => {
    const reply = await send(resource, { headers: { Authorization: 'Bearer abc.def.ghi' } });
    expect(reply.status).toBe(401);
    expect(reply.headers['www-authenticate']).toBe(
      `Bearer error="invalid_token", error_description="malformed token", resource_metadata="${metadata}", DPoP algs="${algs}", resource_metadata="${metadata}"`,
    );
    expect(reply.json()).toEqual({ error: 'invalid_token', error_description: 'malformed token' });
  });

  it('answers a step-up with 403 insufficient_scope, base scopes merged and deduplicated', async () => {
    const token = await signAccessToken(issuer, { aud: resource });
    const call = {
      jsonrpc: '2.0',
      id: 7,
      method: 'tools/call',
      params: { name: 'deploy_service', arguments: { environment: 'prod' } },
    };
    const reply = await postJsonRpc(resource, token, call);
    expect(reply.status).toBe(403);
    expect(reply.headers['www-authenticate']).toBe(
      `Bearer error="insufficient_scope", scope="mcp:read mcp:tools deploy:prod", resource_metadata="${metadata}"`,
    );
  });

  it('maps an unavailable key set to 503 with Retry-After and no challenge', () => {
    const response = challenge(new TemporarilyUnavailableError(undefined, 7), {
      resourceMetadataUrl: 'https://r/.well-known/x',
    });
    expect(response).toEqual({
      status: 503,
      headers: { 'Retry-After': '7' },
      body: {
        error: 'temporarily_unavailable',
        error_description: 'authorization server keys unavailable',
      },
    });
  });

  it('answers unexpected errors with a bare 500 server_error that leaks nothing', () => {
    const response = challenge(new Error('database password is hunter2'), {
      resourceMetadataUrl: 'https://r/x',
    });
    expect(response).toEqual({ status: 500, headers: {}, body: { error: 'server_error' } });
  });

  it('drops scopes that could break out of the scope parameter', () => {
    const response = challenge(new InsufficientScopeError(['ok', 'bad"scope', 'two words']), {
      resourceMetadataUrl: 'https://r/x',
      baseScopes: ['ok'],
    });
    expect(response.headers['WWW-Authenticate']).toBe(
      'Bearer error="insufficient_scope", scope="ok", resource_metadata="https://r/x"',
    );
  });
});

describe('header injection', () => {
  const hostile =
    'nope", error="insufficient_scope", scope="mcp:admin\r\nSet-Cookie: session=evil\\';

  it('escapes quotes and backslashes and strips CR/LF so a description stays one parameter', () => {
    const header = challenge(new InvalidTokenError(hostile), { resourceMetadataUrl: 'https://r/x' })
      .headers['WWW-Authenticate'];
    expect(header).toBe(
      'Bearer error="invalid_token", error_description="nope\\", error=\\"insufficient_scope\\", scope=\\"mcp:adminSet-Cookie: session=evil\\\\", resource_metadata="https://r/x"',
    );
    expect(parseParams(header)).toEqual([
      ['error', 'invalid_token'],
      [
        'error_description',
        'nope", error="insufficient_scope", scope="mcp:adminSet-Cookie: session=evil\\',
      ],
      ['resource_metadata', 'https://r/x'],
    ]);
  });

  it('strips control and non-ASCII characters that Node would refuse in a header', () => {
    expect(quoteHeaderValue('a\u0000b\tc\u007fd\u00e9\u{1F600}e')).toBe('"abcde"');
  });

  it('sends a hostile description over real HTTP as one header and no extra ones', async () => {
    const server = await listen(
      createServer((_req, res) => {
        const response = challenge(new InvalidTokenError(hostile), {
          resourceMetadataUrl: 'https://r/x',
        });
        writeGuardResponse(res, { kind: 'respond', ...response });
      }),
    );
    try {
      const reply = await send(server.url);
      expect(reply.status).toBe(401);
      expect(reply.headers['set-cookie']).toBeUndefined();
      expect(
        parseParams(reply.headers['www-authenticate'] as string).map(([name]) => name),
      ).toEqual(['error', 'error_description', 'resource_metadata']);
    } finally {
      await server.close();
    }
  });

  it('keeps the no-token challenge free of an error code (RFC 6750 §3.1)', () => {
    expect(
      challenge(new MissingTokenError(), { resourceMetadataUrl: 'https://r/x' }).headers,
    ).toEqual({ 'WWW-Authenticate': 'Bearer resource_metadata="https://r/x"' });
  });
});
