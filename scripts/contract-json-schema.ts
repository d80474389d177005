/**
 * JSON Schema (draft 2020-12) of the contract's job and result, rendered from the zod schemas, so the
 * files backends read can never drift from what the worker validates.
 */
import { z } from 'zod';
import { AssetResultSchema, ExtractJobSchema } from '../src/contract.js';

const header = 'Generated from src/contract.ts by `npm run schemas`; do not edit by hand.';

function render(schema: z.ZodType, id: string, title: string): string {
  const json = z.toJSONSchema(schema, { target: 'draft-2020-12', io: 'input' });
  return `${JSON.stringify({ $comment: header, $id: id, title, ...json }, null, 2)}\n`;
}

/** File name → file text. */
export function renderSchemas(): Record<string, string> {
  return {
    'extract-job.schema.json': render(ExtractJobSchema, 'asset-metadata/extract-job.schema.json', 'ExtractJob'),
    'asset-result.schema.json': render(AssetResultSchema, 'asset-metadata/asset-result.schema.json', 'AssetResult'),
  };
}
