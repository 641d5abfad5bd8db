/**
 * Regenerates gateway.schema.json from the zod schema of the gateway's configuration file, the
 * single source of truth. Run `node scripts/generate-gateway-schema.ts` after changing
 * src/gateway/config.ts; test/gateway/config.test.ts fails while the committed file is stale.
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { gatewayJsonSchema } from '../src/gateway/config.ts';

const target = fileURLToPath(new URL('../gateway.schema.json', import.meta.url));
writeFileSync(target, `${JSON.stringify(gatewayJsonSchema(), null, 2)}\n`);
console.log(`wrote ${target}`);
