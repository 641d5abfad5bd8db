import { describe, expect, it } from 'vitest';
import { publicLocation, upstreamRequestHeaders } from '../../src/gateway/headers.ts';

/**
 * The mapping of an upstream's `Location` onto a route whose public path differs from the
 * upstream's (`hostile-upstream.test.ts` proves it over HTTP for a route at the same path).
 */
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
      'http://10.0.0.7:9000/mcp/',
      'http://10.0.0.7:9000/mcp/',
    ],
    ['http://10.0.0.7:8000/mcp', '/github', 'http://[not a url', undefined],
    // an upstream at its root: everything it has is under the route
    ['http://10.0.0.7:8000/', '/tools', 'http://10.0.0.7:8000/mcp/', '/tools/mcp/'],
    ['http://10.0.0.7:8000/', '/tools', '/', '/tools/'],
    // a route at the root
    ['http://10.0.0.7:8000/mcp', '/', 'http://10.0.0.7:8000/mcp/', '/'],
    ['http://10.0.0.7:8000/mcp', '/', 'http://10.0.0.7:8000/mcp', '/'],
  ])('upstream %s, route %s: %s → %s', (upstream, path, location, expected) => {
    expect(publicLocation(location, upstream, path)).toBe(expected);
  });
});

describe('upstreamRequestHeaders', () => {
  it("appends the caller's address to X-Forwarded-For and sends no credentials", () => {
    const headers = upstreamRequestHeaders(
      { 'x-forwarded-for': '198.51.100.1, 203.0.113.9', authorization: 'Bearer t', dpop: 'p' },
      new Set(),
      {},
      '192.0.2.4',
    );
    expect(headers['x-forwarded-for']).toBe('198.51.100.1, 203.0.113.9, 192.0.2.4');
    expect(headers).not.toHaveProperty('authorization');
    expect(headers).not.toHaveProperty('dpop');
  });
});
