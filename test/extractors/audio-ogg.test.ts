/**
 * The Ogg page walk (audio-ogg.ts): the last granule position of the fixtures from how they were made, and
 * on variants made with ffmpeg the extractor's duration equals music-metadata's full read
 * (`duration: true`, what the extractor used before); files that are not plain are left to that read.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseFile } from 'music-metadata';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readOggEnd } from '../../src/extractors/audio-ogg.js';
import { extractFile } from '../../src/extractors/extract-file.js';
import { fixturesDir, testExtractConfig } from '../helpers/fixtures.js';

const audio = (name: string) => path.join(fixturesDir, 'audio', name);
const end = (file: string) => readOggEnd(file, statSync(file).size);
const tmp = mkdtempSync(path.join(tmpdir(), 'ogg-test-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('last page of the fixtures', () => {
  it('vorbis-22k-mono.ogg: 1 s at 22.05 kHz ends at granule 22050', async () => {
    expect(await end(audio('vorbis-22k-mono.ogg'))).toEqual({ granule: 22050 });
  });

  it('opus-48k-mono.opus: 1 s at 48 kHz plus libopus\'s 312-sample pre-skip', async () => {
    expect(await end(audio('opus-48k-mono.opus'))).toEqual({ granule: 48312, preSkip: 312 });
  });

  it('not Ogg: undefined', async () => {
    expect(await end(audio('s16-8k-mono.flac'))).toBeUndefined();
  });
});

describe('the same duration as music-metadata reading every page (variants made with ffmpeg)', () => {
  const files: Record<string, string> = {};
  const make = (name: string, ...args: string[]) => {
    const file = path.join(tmp, name);
    execFileSync('ffmpeg', ['-v', 'error', '-y', '-f', 'lavfi', ...args, '-fflags', '+bitexact', file], { stdio: 'pipe' });
    return file;
  };
  const write = (name: string, bytes: Uint8Array) => {
    const file = path.join(tmp, name);
    writeFileSync(file, bytes);
    return file;
  };

  beforeAll(() => {
    // Long enough to pass the 13 pages after which music-metadata stops without `duration: true`.
    files.vorbis = make('long.ogg', '-i', 'sine=f=440:sample_rate=44100:duration=20', '-ac', '2', '-c:a', 'libvorbis');
    files.opus = make('long.opus', '-i', 'sine=f=440:sample_rate=16000:duration=20', '-c:a', 'libopus');
    const vorbis = readFileSync(files.vorbis);
    files.cut = write('cut.ogg', vorbis.subarray(0, 30_000));
    files.chained = write('chained.ogg', Buffer.concat([readFileSync(audio('vorbis-22k-mono.ogg')), vorbis]));
    files.junk = write('junk.ogg', Buffer.concat([vorbis, Buffer.from('junk')]));
  }, 60_000);

  it.each([
    ['vorbis', 20], // 20 s × 44 100 samples
    ['opus', 20],
  ])('%s: walked, %i s', async (key, seconds) => {
    const file = files[key]!;
    expect(await end(file)).toBeDefined();
    const { format } = await parseFile(file, { duration: true });
    const out = await extractFile(file, testExtractConfig());
    expect(out.dataType === 'audio' && out.section.durationSec).toBe(format.duration);
    expect(format.duration).toBe(seconds);
  });

  it.each(['cut', 'chained', 'junk'])('%s: not plain, read as before', async (key) => {
    const file = files[key]!;
    expect(await end(file)).toBeUndefined();
    const { format } = await parseFile(file, { duration: true });
    const out = await extractFile(file, testExtractConfig()).catch(() => undefined);
    if (out?.dataType === 'audio' && format.duration !== undefined) expect(out.section.durationSec).toBe(format.duration);
  });
});
