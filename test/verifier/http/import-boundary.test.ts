import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const verifier = join(root, 'src/verifier');

function files(path: string): string[] {
  if (statSync(path).isFile()) return [path];
  return readdirSync(path).flatMap((name) => files(join(path, name)));
}

/** Runtime packages the token and HTTP layers may load; everything else server-side stays out. */
const ALLOWED_PACKAGES = ['jose', 'cockatiel', 'lru-cache', 'oauth4webapi'];

describe('verifier import boundary (ARCHITECTURE.md §1)', () => {
  const sources = ['token', 'http', 'errors.ts'].flatMap((part) => files(join(verifier, part)));

  it('covers the token and HTTP layers', () => {
    expect(sources.length).toBeGreaterThan(10);
  });

  it('loads no server-side package and no server code at runtime', () => {
    for (const file of sources) {
      const text = readFileSync(file, 'utf8');
      for (const match of text.matchAll(/^import\s+(type\s+)?[^'"]*?from\s+'([^']+)'/gm)) {
        const [, typeOnly, specifier] = match;
        const where = `${relative(root, file)} imports ${specifier}`;
        if (specifier.startsWith('.')) {
          const target = relative(join(root, 'src'), resolve(dirname(file), specifier));
          expect(target.startsWith('verifier/') || target.startsWith('policy/'), where).toBe(true);
        } else if (!specifier.startsWith('node:')) {
          // The MCP SDK is welcome for its types (AuthInfo), which vanish at runtime.
          expect(
            ALLOWED_PACKAGES.includes(specifier) ||
              (typeOnly !== undefined && specifier.startsWith('@modelcontextprotocol/sdk/')),
            where,
          ).toBe(true);
        }
      }
    }
  });
});

/** Libraries the verifier as a whole may load; none of them is the server's (ARCHITECTURE.md §1). */
const VERIFIER_PACKAGES = [
  'jose',
  'oauth4webapi',
  'cockatiel',
  'rate-limiter-flexible',
  'lru-cache',
  'prom-client',
  '@opentelemetry/api',
  '@modelcontextprotocol/sdk',
  'zod',
];

/** Every module specifier: imports, exports, import(), require() and createRequire(...)(…). */
function specifiers(source: string): string[] {
  const patterns = [
    /\b(?:import|export)\b[^'"`;]*?\bfrom\s*['"]([^'"]+)['"]/g,
    /\bimport\s*\(\s*['"]([^'"]+)['"]/g,
    /\brequire\s*\(\s*['"]([^'"]+)['"]/g,
    /\bcreateRequire\([^)]*\)\(\s*['"]([^'"]+)['"]/g,
  ];
  return patterns.flatMap((pattern) => [...source.matchAll(pattern)].map((m) => m[1]));
}

describe('whole verifier import boundary (ARCHITECTURE.md §1)', () => {
  it('loads only its own libraries and code from src/verifier or src/policy', () => {
    for (const file of files(verifier).filter((name) => name.endsWith('.ts'))) {
      for (const specifier of specifiers(readFileSync(file, 'utf8'))) {
        const where = `${relative(root, file)} imports ${specifier}`;
        if (specifier.startsWith('.')) {
          const target = relative(join(root, 'src'), resolve(dirname(file), specifier));
          expect(target.startsWith('verifier/') || target.startsWith('policy/'), where).toBe(true);
        } else if (!specifier.startsWith('node:')) {
          expect(
            VERIFIER_PACKAGES.some(
              (name) => specifier === name || specifier.startsWith(`${name}/`),
            ),
            where,
          ).toBe(true);
        }
      }
    }
  });
});
