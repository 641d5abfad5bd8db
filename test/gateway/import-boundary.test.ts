import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const gateway = join(root, 'src/gateway');
const sources = readdirSync(gateway, { recursive: true, encoding: 'utf8' })
  .filter((f) => f.endsWith('.ts'))
  .map((f) => join(gateway, f));

/** Packages of the authorization server that the resource-server side never loads (ARCHITECTURE.md §1). */
const SERVER_SIDE =
  /^(oidc-provider|koa|@koa\/|kysely|pg|@electric-sql\/|nodemailer|eta|koa-helmet)/;

describe('gateway import boundary (ARCHITECTURE.md §1, §11)', () => {
  it('has source files to check', () => {
    expect(sources.length).toBeGreaterThan(5);
  });

  it.each(sources.map((file) => [relative(root, file), file]))(
    '%s imports only the gateway, the verifier, the policy engine and libraries',
    (_name, file) => {
      const text = readFileSync(file, 'utf8');
      const specifiers = [
        ...text.matchAll(
          /^(?:import|export)\s[^'"]*?from\s+'([^']+)'|\bimport\(\s*'([^']+)'\s*\)/gm,
        ),
      ].map((m) => m[1] ?? m[2]!);
      for (const specifier of specifiers) {
        if (specifier.startsWith('.')) {
          const target = relative(join(root, 'src'), resolve(dirname(file), specifier));
          expect(
            ['gateway/', 'verifier/', 'policy/'].some((room) => target.startsWith(room)),
            `${specifier} leaves the resource-server side`,
          ).toBe(true);
        } else {
          expect(SERVER_SIDE.test(specifier), `${specifier} is a server-side package`).toBe(false);
        }
      }
    },
  );
});
