import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const POLICY_DIR = fileURLToPath(new URL('../../src/policy/', import.meta.url));
const ALLOWED_PACKAGES = new Set(['zod']);

const files = readdirSync(POLICY_DIR, { recursive: true, encoding: 'utf8' })
  .filter((file) => /\.[cm]?[jt]sx?$/.test(file))
  .map((file) => join(POLICY_DIR, file));

/** Every module specifier in a file: static imports/exports, side-effect imports, import(), require(). */
function specifiers(source: string): string[] {
  const patterns = [
    /\b(?:import|export)\b[^'"`;]*?\bfrom\s*['"]([^'"]+)['"]/g,
    /\bimport\s*['"]([^'"]+)['"]/g,
    /\bimport\s*\(\s*([^)]*)\)/g,
    /\brequire\s*\(\s*([^)]*)\)/g,
  ];
  return patterns.flatMap((pattern) => [...source.matchAll(pattern)].map((m) => m[1].trim()));
}

describe('the policy engine boundary', () => {
  it('has source files to check', () => {
    expect(files.length).toBeGreaterThan(5);
  });

  it.each(files.map((file) => [relative(POLICY_DIR, file), file]))(
    '%s imports only zod and files inside src/policy',
    (_name, file) => {
      for (const spec of specifiers(readFileSync(file, 'utf8'))) {
        if (spec.startsWith('./') || spec.startsWith('../')) {
          const target = resolve(dirname(file), spec);
          expect(relative(POLICY_DIR, target).startsWith('..'), `${spec} leaves src/policy`).toBe(
            false,
          );
        } else {
          expect(ALLOWED_PACKAGES.has(spec), `${spec} is not allowed in src/policy`).toBe(true);
        }
      }
    },
  );

  it.each(files.map((file) => [relative(POLICY_DIR, file), file]))(
    '%s reads no ambient clock, randomness or environment',
    (_name, file) => {
      const source = readFileSync(file, 'utf8');
      expect(source).not.toMatch(
        /\bDate\.now\s*\(|\bnew Date\s*\(\s*\)|\bMath\.random\s*\(|\bprocess\.|\bglobalThis\b|\bfetch\s*\(/,
      );
    },
  );
});
