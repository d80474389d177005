/**
 * Writes the JSON Schema of the job and the result (schema/*.schema.json) from the zod schemas in
 * src/contract.ts, for backends in other languages. `npm run schemas`; a test fails when they are stale.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { renderSchemas } from './contract-json-schema.js';

const dir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../schema');
for (const [name, text] of Object.entries(renderSchemas())) {
  writeFileSync(path.join(dir, name), text);
  console.log(`wrote schema/${name}`);
}
