/**
 * The in-process MP3 frame count (audio-mp3-frames.ts) against what it replaces, `ffprobe -count_packets`:
 * frame lengths worked out by hand from ISO/IEC 11172-3 / 13818-3, counts of fixtures from how they were
 * made, and the same count as ffprobe on every MP3 fixture and on variants made here with ffmpeg; where
 * the stream is not clean the walk must give way to ffprobe (undefined), never guess.
 */
import { execFileSync } from 'node:child_process';
import { appendFileSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readMp3Head } from '../../src/extractors/audio-mp3.js';
import { countMp3Frames, mpegFrameLength } from '../../src/extractors/audio-mp3-frames.js';
import { defaultFfprobePath } from '../../src/extractors/ffprobe.js';
import { fixturesDir } from '../helpers/fixtures.js';

const audio = (name: string) => path.join(fixturesDir, 'audio', name);
const tmp = mkdtempSync(path.join(tmpdir(), 'mp3-frames-test-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** The walk as the extractor runs it: only from the first byte after the ID3v2 tags, only without a VBR tag. */
async function walk(file: string): Promise<number | undefined> {
  const head = await readMp3Head(file);
  if (!head || head.vbrTag || head.frameOffset !== head.audioStart) return undefined;
  return countMp3Frames(file, statSync(file).size, head.audioStart);
}

function ffprobePackets(file: string): number {
  const out = execFileSync(defaultFfprobePath(), [
    '-v', 'error', '-select_streams', 'a:0', '-count_packets', '-show_entries', 'stream=nb_read_packets', '-of', 'csv=p=0', `file:${file}`,
  ]);
  return Number(out.toString().trim());
}

/** A 4-byte frame header: MPEG version bits, layer bits, bitrate index, sample rate index, padding. */
const header = (version: number, layer: number, bitrate: number, rate: number, padding = 0, mode = 0) =>
  ((0x7ff << 21) | (version << 19) | (layer << 17) | (1 << 16) | (bitrate << 12) | (rate << 10) | (padding << 9) | (mode << 6)) >>> 0;

describe('frame length', () => {
  it.each([
    ['MPEG-1 layer III 128 kbit/s 44.1 kHz', header(3, 1, 9, 0), 417], // 144 × 128000 / 44100 = 417.96
    ['the same, padded', header(3, 1, 9, 0, 1), 418],
    ['MPEG-1 layer III 320 kbit/s 48 kHz', header(3, 1, 14, 1), 960],
    ['MPEG-2 layer III 32 kbit/s 22.05 kHz', header(2, 1, 4, 0), 104], // 72 × 32000 / 22050 = 104.49
    ['MPEG-2.5 layer III 8 kbit/s 8 kHz', header(0, 1, 1, 2), 72],
    ['MPEG-1 layer II 192 kbit/s 48 kHz', header(3, 2, 10, 1), 576],
    ['MPEG-2 layer II 64 kbit/s 24 kHz', header(2, 2, 8, 1), 384], // layer II has no half-size frames
    ['MPEG-1 layer I 32 kbit/s 44.1 kHz, padded', header(3, 3, 1, 0, 1), 36], // (⌊12 × 32000 / 44100⌋ + 1) × 4
  ])('%s: %i bytes', (_name, h, bytes) => {
    expect(mpegFrameLength(h)).toBe(bytes);
  });

  it.each([
    ['free format (bitrate index 0)', header(3, 1, 0, 0)],
    ['bitrate index 15', header(3, 1, 15, 0)],
    ['reserved sample rate', header(3, 1, 9, 3)],
    ['reserved version', header(1, 1, 9, 0)],
    ['reserved layer', header(3, 0, 9, 0)],
    ['no sync', 0x12345678],
  ])('%s: not a usable header', (_name, h) => {
    expect(mpegFrameLength(h)).toBeUndefined();
  });
});

describe('frame count of the fixtures, from how they were made', () => {
  it('vbr-no-xing.mp3: 1 s at 22.05 kHz is 41 frames of 576 samples with LAME delay and padding', async () => {
    expect(await walk(audio('vbr-no-xing.mp3'))).toBe(41);
  });

  it('truncated-mid-frame.mp3: 18 whole frames and the one cut at 2000 bytes, flushed as a packet', async () => {
    expect(await walk(audio('truncated-mid-frame.mp3'))).toBe(19);
  });

  it('a file with a Xing/Info header is not walked (the header states the count)', async () => {
    expect((await readMp3Head(audio('cbr-32k.mp3')))?.vbrTag).toBe('Info');
    expect(await walk(audio('cbr-32k.mp3'))).toBeUndefined();
  });

  it('every MP3 fixture the walk counts, ffprobe counts the same', async () => {
    for (const name of readdirSync(path.join(fixturesDir, 'audio')).filter((f) => f.endsWith('.mp3'))) {
      const n = await walk(audio(name));
      if (n !== undefined) expect({ name, n }).toEqual({ name, n: ffprobePackets(audio(name)) });
    }
  });
});

describe('the same count as ffprobe on variants made with ffmpeg', () => {
  const exact = ['-fflags', '+bitexact', '-flags:a', '+bitexact'];
  const make = (name: string, input: string, ...args: string[]) => {
    const file = path.join(tmp, name);
    execFileSync('ffmpeg', ['-v', 'error', '-y', '-f', 'lavfi', '-i', input, ...args, ...exact, file], { stdio: 'pipe' });
    return file;
  };
  /** A new file of `bytes` (from another file's bytes), for cut and patched variants. */
  const write = (name: string, bytes: Uint8Array) => {
    const file = path.join(tmp, name);
    writeFileSync(file, bytes);
    return file;
  };
  const files: Record<string, string> = {};

  beforeAll(() => {
    const tone = (rate: number) => `sine=f=440:sample_rate=${rate}:duration=2`;
    files.cbr = make('cbr-128k-stereo.mp3', tone(44100), '-ac', '2', '-c:a', 'libmp3lame', '-b:a', '128k', '-write_xing', '0');
    files.vbr = make('vbr-stereo.mp3', tone(44100), '-ac', '2', '-c:a', 'libmp3lame', '-q:a', '4', '-write_xing', '0');
    files.mpeg25 = make('mpeg25-8k.mp3', tone(8000), '-c:a', 'libmp3lame', '-b:a', '16k', '-write_xing', '0');
    files.id3v1 = make('id3v1-48k.mp3', tone(48000), '-c:a', 'libmp3lame', '-q:a', '6', '-write_xing', '0', '-write_id3v1', '1',
      '-metadata', 'title=x');
    files.noId3 = make('no-id3v2.mp3', tone(32000), '-c:a', 'libmp3lame', '-q:a', '6', '-write_xing', '0', '-id3v2_version', '0');
    files.layer2 = make('layer2.mp2', tone(48000), '-ac', '2', '-c:a', 'mp2', '-b:a', '192k', '-f', 'mp2');
    files.layer2Lsf = make('layer2-24k.mp2', tone(24000), '-c:a', 'mp2', '-b:a', '64k', '-f', 'mp2');
    const vbr = readFileSync(files.vbr);
    files.cut1 = write('cut-1000.mp3', vbr.subarray(0, 1000));
    files.cut2 = write('cut-5001.mp3', vbr.subarray(0, 5001));
    // Not clean: only ffprobe can say.
    files.junkTail = write('junk-tail.mp3', Buffer.concat([vbr, Buffer.from('not a frame')]));
    files.junkMid = write('junk-mid.mp3', Buffer.concat([vbr.subarray(0, 5000), Buffer.alloc(37), vbr.subarray(5000)]));
    files.mixed = write('mixed.mp3', Buffer.concat([vbr, readFileSync(files.mpeg25)]));
    const id3v1 = readFileSync(files.id3v1);
    files.cutBeforeId3v1 = write('cut-before-id3v1.mp3', Buffer.concat([id3v1.subarray(0, 3001), id3v1.subarray(-128)]));
    files.apeTail = path.join(tmp, 'ape.mp3');
    writeFileSync(files.apeTail, vbr);
    appendFileSync(files.apeTail, Buffer.concat([Buffer.from('APETAGEX'), Buffer.alloc(24)]));
  }, 60_000);

  it.each(['cbr', 'vbr', 'mpeg25', 'id3v1', 'noId3', 'layer2', 'layer2Lsf', 'cut1', 'cut2'])('%s: counted, as ffprobe counts', async (key) => {
    const file = files[key]!;
    const n = await walk(file);
    expect(n).toBeGreaterThan(1);
    expect(n).toBe(ffprobePackets(file));
  });

  it.each(['junkTail', 'junkMid', 'mixed', 'cutBeforeId3v1', 'apeTail'])('%s: left to ffprobe', async (key) => {
    expect(await walk(files[key]!)).toBeUndefined();
  });
});
