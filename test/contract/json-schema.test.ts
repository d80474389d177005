import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { renderSchemas } from '../../scripts/contract-json-schema.js';

const dir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../schema');

describe('JSON Schema files for other backends', () => {
  it.each(Object.entries(renderSchemas()))('schema/%s is up to date (npm run schemas)', (name, text) => {
    expect(readFileSync(path.join(dir, name), 'utf8')).toBe(text);
  });

  it('describes the job the contract names', () => {
    const job = JSON.parse(renderSchemas()['extract-job.schema.json']!) as { required: string[]; properties: Record<string, unknown> };
    expect(job.required).toEqual(['assetId', 'source']);
    expect(Object.keys(job.properties).sort()).toEqual(['assetId', 'dataType', 'maxBytes', 'source', 'version']);
  });
});
