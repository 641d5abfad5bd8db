import { describe, expect, it } from 'vitest';
import {
  CatalogueSchema,
  DEFAULT_ROLES,
  PolicyError,
  catalogueJsonSchema,
  formatPath,
  formatZodIssues,
  parseCatalogue,
  validateCatalogue,
} from '../../src/policy/index.ts';
import { readRootJson } from './fixtures.ts';

const ROLE_NAMES = DEFAULT_ROLES.map((r) => r.name);
// Loosely typed on purpose: these tests write invalid documents.
const shipped = (): any => structuredClone(readRootJson('scopes.json'));

/** The `path: message` lines parseCatalogue reports for `input`. */
function problems(input: unknown): string[] {
  try {
    parseCatalogue(input, ROLE_NAMES);
  } catch (error) {
    expect(error).toBeInstanceOf(PolicyError);
    expect((error as PolicyError).code).toBe('ERR_CATALOGUE_INVALID');
    return (error as PolicyError).data.issues as string[];
  }
  return [];
}

describe('the shipped scopes.json', () => {
  it('parses and passes every cross-check against the default roles', () => {
    const catalogue = parseCatalogue(readRootJson('scopes.json'), ROLE_NAMES);
    expect(validateCatalogue(catalogue, ROLE_NAMES)).toEqual([]);
    expect(catalogue.scopes['mcp:admin'].approval).toEqual({
      groups: ['security-team'],
      quorum: 1,
      ttl: 900,
    });
    expect(catalogue.scopes['mcp:tools:read'].grants[0].action).toBe('invoke');
  });

  it('is offered to the example MCP server without mcp:admin and audit:write (resources of the server itself)', () => {
    const catalogue = parseCatalogue(readRootJson('scopes.json'), ROLE_NAMES);
    const accepted = catalogue.resources['http://localhost:4000/mcp'].scopes;
    expect(new Set(accepted)).toEqual(
      new Set(
        Object.keys(catalogue.scopes).filter((s) => s !== 'mcp:admin' && s !== 'audit:write'),
      ),
    );
  });

  it('points editors at the committed JSON Schema', () => {
    expect(shipped().$schema).toBe('./scopes.schema.json');
  });

  it('comes with a scopes.schema.json that matches the zod schema (run scripts/generate-scopes-schema.ts)', () => {
    expect(readRootJson('scopes.schema.json')).toEqual(catalogueJsonSchema());
  });
});

describe('catalogue cross-checks', () => {
  it('name the path of an unknown minRole', () => {
    const input = shipped();
    input.scopes['mcp:deploy:production'].minRole = 'foo';
    expect(problems(input)).toEqual([
      'scopes["mcp:deploy:production"].minRole: unknown role "foo"',
    ]);
  });

  it('name base scopes and resource scopes that are not defined', () => {
    const input = shipped();
    input.baseScopes.push('mcp:nope');
    input.resources['http://localhost:4000/mcp'].scopes.push('mcp:missing');
    expect(problems(input)).toEqual([
      'baseScopes[2]: unknown scope "mcp:nope"',
      'resources["http://localhost:4000/mcp"].scopes[4]: unknown scope "mcp:missing"',
    ]);
  });

  it('require expiresIn on an elevated scope and refuse approval on a non-elevated one', () => {
    const input = shipped();
    delete input.scopes['mcp:deploy:staging'].expiresIn;
    input.scopes['audit:write'].approval = { groups: ['security-team'] };
    expect(problems(input)).toEqual([
      'scopes["mcp:deploy:staging"].expiresIn: required for an elevated scope (one with minRole)',
      'scopes["audit:write"].approval: only an elevated scope (one with minRole) can require approval',
    ]);
  });

  it('refuse an elevated scope as a base scope', () => {
    const input = shipped();
    input.baseScopes.push('mcp:admin');
    expect(problems(input)).toEqual([
      'baseScopes[2]: scope "mcp:admin" is elevated (has minRole) and cannot be a base scope',
    ]);
  });

  it('skip the role check when no role names are given', () => {
    const input = shipped();
    input.scopes['mcp:admin'].minRole = 'root';
    expect(validateCatalogue(CatalogueSchema.parse(input))).toEqual([]);
  });
});

describe('catalogue schema errors', () => {
  it('name the path of a bad nested value', () => {
    const input = shipped();
    input.scopes['mcp:admin'].approval.quorum = 0;
    expect(problems(input)).toEqual([
      'scopes["mcp:admin"].approval.quorum: Too small: expected number to be >=1',
    ]);
  });

  it('refuse unknown keys at any depth, one line per key', () => {
    const input = shipped();
    input.scopez = {};
    input.scopes['mcp:admin'].grnats = [];
    input.scopes['mcp:deploy:staging'].grants[0].conditions.enviroment = ['x'];
    expect(problems(input)).toEqual(
      expect.arrayContaining([
        'scopez: unknown key',
        'scopes["mcp:admin"].grnats: unknown key',
        'scopes["mcp:deploy:staging"].grants[0].conditions.enviroment: unknown key',
      ]),
    );
  });

  it('explain bad time windows, time zones, role names and resource URLs', () => {
    const input = shipped();
    input.scopes['mcp:admin'].grants[0].conditions = {
      timeWindow: { start: '9:00', end: '17:00', timezone: 'Europe/Berlni' },
    };
    input.scopes['mcp:admin'].minRole = 'Admin';
    input.resources['not a url'] = { name: 'x', scopes: [] };
    const lines = problems(input);
    expect(lines).toContain(
      'scopes["mcp:admin"].grants[0].conditions.timeWindow.start: must be a time "HH:MM" (00:00-23:59)',
    );
    expect(lines).toContain(
      'scopes["mcp:admin"].grants[0].conditions.timeWindow.timezone: must be an IANA time zone known to Intl, e.g. "Europe/Berlin"',
    );
    expect(
      lines.some((l) => l.startsWith('scopes["mcp:admin"].minRole: must be 1-64 characters')),
    ).toBe(true);
    expect(lines).toContain('resources["not a url"]: invalid key (Invalid URL)');
  });

  it('refuse a time window whose start equals its end', () => {
    const input = shipped();
    input.scopes['mcp:admin'].grants[0].conditions = {
      timeWindow: { start: '09:00', end: '09:00', timezone: 'UTC' },
    };
    expect(problems(input)).toEqual([
      'scopes["mcp:admin"].grants[0].conditions.timeWindow.end: start and end must differ',
    ]);
  });

  it('report the root when the document is not an object', () => {
    expect(problems([])).toEqual(['(root): Invalid input: expected object, received array']);
  });
});

describe('path formatting', () => {
  it.each<[PropertyKey[], string]>([
    [['scopes', 'mcp:admin', 'approval', 'quorum'], 'scopes["mcp:admin"].approval.quorum'],
    [['baseScopes', 0], 'baseScopes[0]'],
    [['a.b', 'c"d'], '["a.b"]["c\\"d"]'],
    [[], '(root)'],
  ])('renders %j as %s', (path, expected) => {
    expect(formatPath(path)).toBe(expected);
  });

  it('formats a raw zod error the same way', () => {
    const result = CatalogueSchema.safeParse({ baseScopes: 'x', resources: {}, scopes: {} });
    expect(result.success).toBe(false);
    expect(formatZodIssues(result.error!)).toEqual([
      'baseScopes: Invalid input: expected array, received string',
    ]);
  });
});
