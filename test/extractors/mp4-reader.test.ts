/**
 * The in-process ISO BMFF reader (mp4-reader.ts) against the ffprobe path it replaces: on every MP4
 * family fixture and on variants made here with ffmpeg, both must give the same section; plus facts
 * known from how fixtures were made, and files it must refuse (undefined: ffprobe decides).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isoBmffExts } from '../../src/extractors/mp4-boxes.js';
import { mp4ReaderRefusal, readMp4 } from '../../src/extractors/mp4-reader.js';
import { probeVideo } from '../../src/extractors/video.js';
import { fixturesDir, listFixtures, testExtractConfig } from '../helpers/fixtures.js';

const tmp = mkdtempSync(path.join(tmpdir(), 'mp4-reader-test-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const mimeOf: Record<string, string> = { mov: 'video/quicktime', m4a: 'audio/x-m4a', '3gp': 'video/3gpp' };
const input = (file: string) => {
  const ext = path.extname(file).slice(1);
  return { path: file, sizeBytes: statSync(file).size, dataType: 'video' as const, mimeType: mimeOf[ext] ?? 'video/mp4', ext };
};

/** The ffprobe path's answer (reader off), or the error it fails with. */
async function viaFfprobe(file: string): Promise<unknown> {
  try {
    const out = await probeVideo(input(file), testExtractConfig(), { mp4Reader: false });
    return out.section;
  } catch (err) {
    return err;
  }
}

const mp4Fixtures = [...listFixtures('video'), ...listFixtures('audio')].filter((f) => isoBmffExts.has(path.extname(f).slice(1)));

describe('the reader gives what ffprobe gives (fixtures)', () => {
  it.each(mp4Fixtures.map((f) => [path.relative(fixturesDir, f), f]))('%s', async (_name, file) => {
    const expected = await viaFfprobe(file);
    const read = await readMp4(file, input(file).mimeType);
    if (expected instanceof Error) {
      // Files ffprobe fails on are its to fail: the reader must not claim them.
      expect(read).toBeUndefined();
      return;
    }
    // Every good fixture of the family is plain enough for the reader (else it would be untested).
    expect(await mp4ReaderRefusal(file, input(file).mimeType)).toBeUndefined();
    expect(read?.section).toEqual(expected);
  });
});
