/**
 * Regenerates federation.schema.json from the zod schema of the federation file, the single
 * source of truth. Run `node scripts/generate-federation-schema.ts` after changing
 * src/federation/config.ts; test/federation/config.test.ts fails while the committed file is stale.
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { federationJsonSchema } from '../src/federation/config.ts';

const target = fileURLToPath(new URL('../federation.schema.json', import.meta.url));
writeFileSync(target, `${JSON.stringify(federationJsonSchema(), null, 2)}\n`);
console.log(`wrote ${target}`);
