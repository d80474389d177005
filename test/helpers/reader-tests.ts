/**
 * Shared by the tests of the in-process container readers (MP4, Matroska, ASF, AVI), which check each
 * reader against the ffprobe path on the same file.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Extracted, ExtractInput } from '../../src/extractors/extractor.js';
import { probeVideo, type ProbeVideoOptions } from '../../src/extractors/video.js';
import { testExtractConfig } from './fixtures.js';

/** What the ffprobe path gives (the reader under test switched off in `options`), or its error as a string. */
export async function ffprobePathOutcome(input: ExtractInput, options: ProbeVideoOptions): Promise<Extracted | string> {
  try {
    return await probeVideo(input, testExtractConfig(), options);
  } catch (err) {
    return String(err);
  }
}

/** Writes `bytes` as `name` in `dir` and returns its path. */
export const tempWriter = (dir: string) => (name: string, bytes: Buffer): string => {
  const file = path.join(dir, name);
  writeFileSync(file, bytes);
  return file;
};

