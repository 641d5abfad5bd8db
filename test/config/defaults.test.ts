import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DEFAULTS } from '../../src/config/defaults.ts';
import { envSchema, loadConfig } from '../../src/config/env.ts';

/** The README's configuration table: variable → default cell (backticks removed). */
function readmeDefaults(): Map<string, string> {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
  const section = readme.split(/^## /m).find((s) => s.startsWith('Configuration\n'));
  if (!section) throw new Error('README has no "## Configuration" section');
  const rows = new Map<string, string>();
  for (const line of section.split('\n')) {
    const m = /^\| `([A-Z][A-Z0-9_]*)` \| ([^|]+) \|/.exec(line);
    if (m) rows.set(m[1]!, m[2]!.trim().replace(/^`(.*)`$/, '$1'));
  }
  return rows;
}

const documented = readmeDefaults();
// Every default the schema applies to an empty environment; undefined for an optional variable.
const applied = envSchema.parse({}) as Record<string, unknown>;
const variables = Object.keys(envSchema.shape);

// Each variable with a default, and the entry of config/defaults.ts it must come from.
const FROM_DEFAULTS: Record<string, keyof typeof DEFAULTS> = {
  PORT: 'port',
  DATA_DIR: 'dataDir',
  MAIL_FROM: 'mailFrom',
  SCOPES_FILE: 'scopesFile',
  LOG_LEVEL: 'logLevel',
  TRUST_PROXY: 'trustProxy',
  ACCESS_TOKEN_TTL: 'accessTokenTtlSeconds',
  CIBA_POLL_INTERVAL: 'cibaPollIntervalSeconds',
  AUDIT_INGEST_EVENTS_PER_MINUTE: 'auditIngestEventsPerMinute',
  AUDIT_CHECKPOINT_EVERY_EVENTS: 'auditCheckpointEveryEvents',
  AUDIT_CHECKPOINT_EVERY_SECONDS: 'auditCheckpointEverySeconds',
  FEDERATION_FILE: 'federationFile',
  LOCAL_LOGIN: 'localLogin',
  ADMIN_REQUIRE_PASSKEY: 'adminRequirePasskey',
};

// Defaults derived from other variables, and where the configuration holds them.
const DERIVED: Record<string, (config: ReturnType<typeof loadConfig>) => string> = {
  ISSUER: (c) => c.issuer,
  AUDIT_CHECKPOINT_DIR: (c) => c.auditCheckpoints.dir,
};

describe('the README configuration table', () => {
  it('documents every environment variable the server reads, and no other', () => {
    expect(documented.size).toBeGreaterThan(0);
    expect([...documented.keys()].sort()).toEqual([...variables].sort());
  });

  it.each(variables)('states the default %s really has', (name) => {
    const cell = documented.get(name);
    expect(cell, `${name} is not in the README table`).toBeDefined();
    const value = applied[name];
    if (value !== undefined) {
      expect(cell).toBe(String(value));
    } else if (cell !== 'unset') {
      // A default derived from other variables (`http://localhost:$PORT`): what the
      // configuration holds for an environment that sets only those variables.
      const env: Record<string, string> = { PORT: '4321', DATA_DIR: '/srv/mcp-elevate' };
      const expected = cell!.replace(/\$([A-Z_]+)/g, (_, v: string) => env[v]!);
      const derived = DERIVED[name];
      expect(derived, `${name}: derived default without a DERIVED entry`).toBeDefined();
      expect(derived!(loadConfig(env))).toBe(expected);
    }
  });
});

describe('config/defaults.ts', () => {
  it('is the source of every environment default', () => {
    const withDefault = variables.filter((name) => applied[name] !== undefined);
    expect(withDefault.sort()).toEqual(Object.keys(FROM_DEFAULTS).sort());
    for (const [name, key] of Object.entries(FROM_DEFAULTS))
      expect(applied[name], name).toBe(DEFAULTS[key]);
  });

  it('cannot be changed at run time', () => {
    expect(Object.isFrozen(DEFAULTS)).toBe(true);
    expect(() => {
      (DEFAULTS as { port: number }).port = 1;
    }).toThrow(TypeError);
  });
});
