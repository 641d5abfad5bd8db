import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  ResourceIndex,
  normalizeResourceUri,
  parseCatalogue,
  sameResource,
} from '../../src/policy/index.ts';

describe('resource identifiers are compared after RFC 3986 §6.2.2 normalisation', () => {
  const same: Array<[string, string]> = [
    ['HTTP://LOCALHOST:4000/mcp', 'http://localhost:4000/mcp'],
    ['http://localhost:4000/mcp/', 'http://localhost:4000/mcp'],
    ['http://localhost:80/mcp', 'http://localhost/mcp'],
    ['https://example.com:443/mcp', 'https://example.com/mcp'],
    ['http://localhost:4000', 'http://localhost:4000/'],
    ['http://localhost:4000/%6Dcp', 'http://localhost:4000/mcp'],
    ['http://localhost:4000/a/%7Eb', 'http://localhost:4000/a/~b'],
    ['http://localhost:4000/a%2fb', 'http://localhost:4000/a%2Fb'],
    ['http://localhost:4000/a/./b/../mcp', 'http://localhost:4000/a/mcp'],
    ['http://localhost:4000/mcp?x=%7e', 'http://localhost:4000/mcp?x=~'],
  ];
  it.each(same)('%s names the same resource as %s', (a, b) => {
    expect(normalizeResourceUri(a)).toBe(normalizeResourceUri(b));
    expect(sameResource(a, b)).toBe(true);
  });

  const different: Array<[string, string]> = [
    ['http://localhost:4000/mcp', 'https://localhost:4000/mcp'],
    ['http://localhost:4000/mcp', 'http://localhost:4001/mcp'],
    ['http://localhost:4000/MCP', 'http://localhost:4000/mcp'],
    ['http://localhost:4000/a%2Fb', 'http://localhost:4000/a/b'],
    ['http://localhost:4000/mcp', 'http://localhost:4000/mcp?x=1'],
    ['http://localhost:4000/mcp//', 'http://localhost:4000/mcp'],
  ];
  it.each(different)('%s is not %s', (a, b) => {
    expect(sameResource(a, b)).toBe(false);
  });

  it.each([
    'mcp',
    '/mcp',
    'urn:example:mcp',
    'ftp://localhost/mcp',
    'http://localhost:4000/mcp#frag',
    'http://user:pw@localhost:4000/mcp',
    'http://',
    '',
  ])('%j is no resource identifier', (value) => {
    expect(normalizeResourceUri(value)).toBeUndefined();
    expect(sameResource(value, value)).toBe(false);
  });

  it('normalising twice changes nothing more (property)', () => {
    fc.assert(
      fc.property(fc.webUrl({ withQueryParameters: true }), (url) => {
        const once = normalizeResourceUri(url);
        if (once !== undefined) expect(normalizeResourceUri(once)).toBe(once);
      }),
    );
  });

  it('an index answers the configured spelling for any equivalent spelling', () => {
    const index = new ResourceIndex([
      'http://localhost:4000/mcp',
      'https://tools.example.com/MCP/',
    ]);
    expect(index.resolve('HTTP://LOCALHOST:4000/mcp/')).toBe('http://localhost:4000/mcp');
    expect(index.resolve('https://TOOLS.example.com:443/%4DCP')).toBe(
      'https://tools.example.com/MCP/',
    );
    expect(index.resolve('http://localhost:4000/other')).toBeUndefined();
    expect(index.resolve('not a uri')).toBeUndefined();
  });

  it('an index refuses two spellings of one resource', () => {
    expect(
      () => new ResourceIndex(['http://localhost:4000/mcp', 'http://LOCALHOST:4000/mcp/']),
    ).toThrow(TypeError);
  });

  it('a catalogue naming one resource twice is refused', () => {
    const scope = { description: 'read', grants: [] };
    expect(() =>
      parseCatalogue({
        baseScopes: ['read'],
        scopes: { read: scope },
        resources: {
          'http://localhost:4000/mcp': { name: 'a', scopes: ['read'] },
          'http://localhost:4000/mcp/': { name: 'b', scopes: ['read'] },
        },
      }),
    ).toThrow(/names the same resource/);
  });
});
