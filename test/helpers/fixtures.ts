import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ExtractConfig } from '../../src/config.js';

export const fixturesDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../fixtures');

/** Every fixture file that has an `<file>.expected.json` beside it, sorted. */
export function listFixtures(dataType?: string): string[] {
  const out: string[] = [];
  for (const d of readdirSync(fixturesDir, { withFileTypes: true })) {
    if (!d.isDirectory() || (dataType && d.name !== dataType)) continue;
    for (const f of readdirSync(path.join(fixturesDir, d.name))) {
      const file = path.join(fixturesDir, d.name, f);
      if (!f.endsWith('.expected.json') && existsSync(`${file}.expected.json`)) out.push(file);
    }
  }
  return out.sort();
}

export function testExtractConfig(overrides: Partial<ExtractConfig> = {}): ExtractConfig {
  return { timeoutMs: 30_000, maxHeapMb: 256, pdfMaxPageSizes: 10_000, dicomIncludePhi: false, ...overrides };
}
