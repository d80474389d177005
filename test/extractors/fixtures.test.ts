/**
 * One table over every fixture: each file in fixtures/<type>/ is run through detection and extraction and
 * compared with its `<file>.expected.json`, written by hand from how the file was made.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { AssetResultSchema } from '../../src/contract.js';
import { extractFile, hashAndExtract } from '../../src/extractors/extract-file.js';
import { ExtractPool } from '../../src/extractors/pool/isolate.js';
import { compareExpected, type Expected } from '../../src/replay/compare.js';
import { probeFile } from '../../src/probe.js';
import { fixturesDir, listFixtures, testExtractConfig } from '../helpers/fixtures.js';

const fixtures = listFixtures();

describe('every fixture matches its expected.json', () => {
  it('has fixtures', () => {
    expect(fixtures.length).toBeGreaterThan(5);
  });
  it.each(fixtures.map((f) => [path.relative(fixturesDir, f), f]))('%s', async (_name, file) => {
    const expected = JSON.parse(readFileSync(`${file}.expected.json`, 'utf8')) as Expected;
    const result = await probeFile(file, testExtractConfig());
    expect(() => AssetResultSchema.parse(result)).not.toThrow();
    expect(compareExpected(expected, result)).toEqual([]);
    // The bytes were recognised before they proved unreadable: a failed result still says what they are.
    if (result.error?.code === 'CORRUPT_ASSET' || result.error?.code === 'ENCRYPTED_ASSET') {
      expect(result.dataType).toBeDefined();
      expect(result.mimeType).toBeDefined();
    }
    if (result.status === 'ok') {
      const sections = ['image', 'video', 'audio', 'pdf', 'dicom', 'text'].filter((k) => k in result);
      expect(sections).toEqual([result.dataType]);
    }
  });
});

/**
 * The same table through the extraction threads, as the worker and `asset-meta probe` run it: a thread
 * sets things up its own way (no canvas library for pdf.js, sharp's settings),
 * and a result must not depend on that.
 */
describe('every fixture matches its expected.json through the extraction threads', () => {
  const pool = new ExtractPool(2, 256);
  afterAll(() => pool.close());
  it.each(fixtures.map((f) => [path.relative(fixturesDir, f), f]))('%s', async (_name, file) => {
    const expected = JSON.parse(readFileSync(`${file}.expected.json`, 'utf8')) as Expected;
    const result = await probeFile(file, testExtractConfig(), (p, c) => pool.probe(p, c));
    expect(compareExpected(expected, result)).toEqual([]);
  });
});

/**
 * Files up to the detection head (64 KiB) are read by the extractors from the bytes hashAndExtract already
 * holds (ExtractInput.bytes) rather than opened again; the queue path extracts from the file. Both must
 * give the same answer, or the same error.
 */
describe('every fixture reads the same from its bytes in memory as from the file', () => {
  const outcome = async (run: () => Promise<unknown>) => run().catch((err: unknown) => ({ error: String(err), code: (err as { code?: string }).code }));
  it.each(fixtures.map((f) => [path.relative(fixturesDir, f), f]))('%s', async (_name, file) => {
    const fromFile = await outcome(() => extractFile(file, testExtractConfig()));
    const probed = await hashAndExtract(file, testExtractConfig());
    const fromBytes = probed.extracted ?? { error: String(probed.error), code: (probed.error as { code?: string }).code };
    expect(fromBytes).toEqual(fromFile);
  });
});

// Keep the unused import honest: listFixtures must see every expected file.
it('every expected.json has its fixture', () => {
  const dirs = readdirSync(fixturesDir, { withFileTypes: true }).filter((d) => d.isDirectory());
  for (const d of dirs) {
    for (const f of readdirSync(path.join(fixturesDir, d.name))) {
      if (f.endsWith('.expected.json')) {
        expect(fixtures).toContain(path.join(fixturesDir, d.name, f.slice(0, -'.expected.json'.length)));
      }
    }
  }
});
