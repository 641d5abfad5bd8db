import { describe, expect, it } from 'vitest';
import { clientResponseHeaders, upstreamRequestHeaders } from '../../src/gateway/headers.ts';
import { publicLocation } from '../../src/gateway/location.ts';

/**
 * The mapping of an upstream's `Location` onto a route whose public path differs from the
 * upstream's (`hostile-upstream.test.ts` proves it over HTTP for a route at the same path).
 */
/** The gateway's public origin in these cases: on this machine, as in the README's try-it steps. */
const PUBLIC = 'http://localhost:4200';

describe('publicLocation', () => {
  it.each([
    // route /github → upstream http://10.0.0.7:8000/mcp
    ['http://10.0.0.7:8000/mcp', '/github', 'http://10.0.0.7:8000/mcp/', '/github/'],
    ['http://10.0.0.7:8000/mcp', '/github', '/mcp/x?y=1', '/github/x?y=1'],
    ['http://10.0.0.7:8000/mcp', '/github', 'http://10.0.0.7:8000/mcp', '/github'],
    ['http://10.0.0.7:8000/mcp', '/github', 'http://10.0.0.7:8000/mcpx', undefined],
    ['http://10.0.0.7:8000/mcp', '/github', 'http://10.0.0.7:8000/', undefined],
    [
      'http://10.0.0.7:8000/mcp',
      '/github',
      'http://10.0.0.9:8000/mcp/',
      'http://10.0.0.9:8000/mcp/',
    ],
    ['http://10.0.0.7:8000/mcp', '/github', 'http://[not a url', undefined],
    // an upstream at its root: everything it has is under the route
    ['http://10.0.0.7:8000/', '/tools', 'http://10.0.0.7:8000/mcp/', '/tools/mcp/'],
    ['http://10.0.0.7:8000/', '/tools', '/', '/tools/'],
    // a route at the root
    ['http://10.0.0.7:8000/mcp', '/', 'http://10.0.0.7:8000/mcp/', '/'],
    ['http://10.0.0.7:8000/mcp', '/', 'http://10.0.0.7:8000/mcp', '/'],
    // …where a path of the upstream starting `//` must not become another host
    [
      'http://10.0.0.7:8000/mcp',
      '/',
      'http://10.0.0.7:8000/mcp//evil.example/x',
      '/evil.example/x',
    ],
    // the upstream's host under another scheme (X-Forwarded-Proto honoured), or spelt otherwise
    ['http://10.0.0.7:8000/mcp', '/mcp', 'https://10.0.0.7:8000/mcp/', '/mcp/'],
    ['http://10.0.0.7:8000/mcp', '/mcp', 'ws://10.0.0.7:8000/mcp/', '/mcp/'],
    ['http://mcp-internal:8000/mcp', '/mcp', 'http://MCP-Internal.:8000/mcp/', '/mcp/'],
    ['http://10.0.0.7:8000/mcp', '/mcp', 'http://0xa000007:8000/mcp/', '/mcp/'],
    // another port of the upstream's host: another service, dropped
    ['http://10.0.0.7:8000/mcp', '/mcp', 'http://10.0.0.7:9000/mcp/', undefined],
    ['http://10.0.0.7:8000/mcp', '/mcp', 'https://10.0.0.7/mcp/', undefined],
    // a loopback upstream: every loopback name is the upstream
    ['http://127.0.0.1:8000/mcp', '/mcp', 'http://localhost:8000/mcp/', '/mcp/'],
    ['http://127.0.0.1:8000/mcp', '/mcp', 'http://[::1]:8000/mcp/', '/mcp/'],
    ['http://127.0.0.1:8000/mcp', '/mcp', 'http://[::ffff:127.0.0.1]:8000/mcp/', '/mcp/'],
    ['http://127.0.0.1:8000/mcp', '/mcp', 'http://127.1.2.3:8000/admin', undefined],
    ['http://localhost:8000/mcp', '/mcp', 'http://app.localhost:8000/mcp/x', '/mcp/x'],
    ['http://127.0.0.1:8000/mcp', '/mcp', 'http://localhost:9000/', undefined],
    // the gateway's own public URL (built from X-Forwarded-Host), loopback as the upstream is
    ['http://127.0.0.1:8000/mcp', '/mcp', `${PUBLIC}/mcp/`, `${PUBLIC}/mcp/`],
    // not loopback: another host
    ['http://127.0.0.1:8000/mcp', '/mcp', 'http://10.0.0.7:8000/mcp/', 'http://10.0.0.7:8000/mcp/'],
  ])('upstream %s, route %s: %s → %s', (upstream, path, location, expected) => {
    expect(publicLocation(location, upstream, { path, origin: PUBLIC })).toBe(expected);
  });
});

describe('upstreamRequestHeaders', () => {
  const publicUrl = new URL('https://tools.example.com/mcp');

  it("appends the caller's address to X-Forwarded-For and sends no credentials or cookies", () => {
    const headers = upstreamRequestHeaders(
      {
        'x-forwarded-for': '198.51.100.1, 203.0.113.9',
        authorization: 'Bearer t',
        dpop: 'p',
        cookie: 'session=gateway-site',
      },
      new Set(),
      {},
      { publicUrl, peer: '192.0.2.4' },
    );
    expect(headers['x-forwarded-for']).toBe('198.51.100.1, 203.0.113.9, 192.0.2.4');
    for (const name of ['authorization', 'dpop', 'cookie'])
      expect(headers).not.toHaveProperty(name);
    const empty = upstreamRequestHeaders(
      { 'x-forwarded-for': ' ' },
      new Set(),
      {},
      {
        publicUrl,
        peer: '192.0.2.4',
      },
    );
    expect(empty['x-forwarded-for']).toBe('192.0.2.4');
  });

  it('writes the forwarding headers itself: the public URL, never what the caller claimed', () => {
    const headers = upstreamRequestHeaders(
      {
        forwarded: 'for=1.2.3.4;proto=http;host=evil.example',
        'x-forwarded-proto': 'http',
        'x-forwarded-host': 'evil.example',
        'x-forwarded-port': '1',
        'x-real-ip': '1.2.3.4',
        'true-client-ip': '1.2.3.4',
      },
      new Set(),
      {},
      { publicUrl },
    );
    expect(headers).toMatchObject({
      'x-forwarded-proto': 'https',
      'x-forwarded-host': 'tools.example.com',
    });
    for (const name of ['forwarded', 'x-forwarded-port', 'x-real-ip', 'true-client-ip'])
      expect(headers).not.toHaveProperty(name);
  });
});

describe('clientResponseHeaders', () => {
  it('passes what an MCP client reads and nothing that could name the upstream', () => {
    const upstream = {
      'content-type': 'text/event-stream',
      'cache-control': 'no-cache',
      'mcp-session-id': 'abc',
      'mcp-protocol-version': '2025-06-18',
      'retry-after': '3',
      location: '/mcp/',
      link: '<http://10.0.0.7:8000/mcp/>; rel="alternate"',
      refresh: '0; url=http://10.0.0.7:8000/',
      'set-cookie': ['s=1; Domain=10.0.0.7'],
      'access-control-allow-origin': 'http://10.0.0.7:8000',
      'alt-svc': 'h3=":8443"',
      server: 'uvicorn',
      via: '1.1 10.0.0.7',
      'x-upstream-host': '10.0.0.7',
      'www-authenticate': 'Bearer resource_metadata="http://10.0.0.7/x"',
    };
    expect(clientResponseHeaders(upstream)).toEqual({
      'content-type': 'text/event-stream',
      'cache-control': 'no-cache',
      'mcp-session-id': 'abc',
      'mcp-protocol-version': '2025-06-18',
      'retry-after': '3',
      location: '/mcp/',
    });
    // A header the upstream's Connection names is hop-by-hop.
    expect(
      clientResponseHeaders({ connection: 'cache-control', 'cache-control': 'x', etag: '"1"' }),
    ).toEqual({ etag: '"1"' });
  });
});
