/**
 * Regenerates scopes.schema.json from the zod catalogue schema, the single source of truth.
 * Run `node scripts/generate-scopes-schema.ts` after changing src/policy/schema.ts;
 * test/policy/catalogue.test.ts fails while the committed file is stale.
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { catalogueJsonSchema } from '../src/policy/schema.ts';

const target = fileURLToPath(new URL('../scopes.schema.json', import.meta.url));
writeFileSync(target, `${JSON.stringify(catalogueJsonSchema(), null, 2)}\n`);
console.log(`wrote ${target}`);
