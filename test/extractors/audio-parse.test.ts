/**
 * music-metadata reads small audio files from memory (parseBuffer) rather than through its file tokenizer
 * (parseFile), because that is several times cheaper. Both must say the same of every audio fixture:
 * the same format fields, or both refuse the file.
 */
import path from 'node:path';
import { statSync } from 'node:fs';
import { parseFile } from 'music-metadata';
import { describe, expect, it } from 'vitest';
import { parseAudioFormat } from '../../src/extractors/audio.js';
import { fixturesDir, listFixtures } from '../helpers/fixtures.js';

const settle = <T>(p: Promise<T>) => p.then((value) => ({ value }), (error: unknown) => ({ error: String(error) }));

describe('music-metadata from memory and from the file agree', () => {
  const files = listFixtures('audio');
  it('has audio fixtures', () => expect(files.length).toBeGreaterThan(10));
  it.each(files.flatMap((f) => [true, false].map((scan) => [path.relative(fixturesDir, f), scan, f] as const)))(
    '%s (duration scan %s)',
    async (_name, scan, file) => {
      const fromFile = await settle(parseFile(file, { duration: scan, skipCovers: true }).then((m) => m.format));
      const fromMemory = await settle(parseAudioFormat(file, statSync(file).size, scan));
      expect(fromMemory).toEqual(fromFile);
    },
  );
});
