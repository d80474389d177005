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

const v = (seconds: number, rate = '25', size = '64x48') => ['-f', 'lavfi', '-i', `testsrc=size=${size}:rate=${rate}:duration=${seconds}`];
const a = (rate: number, seconds: number, layout = 'mono') => ['-f', 'lavfi', '-i', `sine=frequency=440:sample_rate=${rate}:duration=${seconds},aformat=channel_layouts=${layout}`];
const x264 = ['-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p'];
const exact = ['-fflags', '+bitexact', '-map_metadata', '-1'];

/**
 * Variants made with ffmpeg: [name, arguments, whether the reader must read it (true) or may defer].
 * Each is compared with the ffprobe path; `true` ones must also be read, so the reader is really tested.
 */
const matrixOf = new Map<string, number[]>();
const variants: [string, string[], boolean][] = [
  ['h264-bframes.mp4', [...v(2), '-c:v', 'libx264', '-preset', 'medium', '-bf', '3', '-pix_fmt', 'yuv420p'], true],
  ['h264-ntsc-aac-stereo.mp4', [...v(2, '24000/1001'), ...a(44100, 2, 'stereo'), ...x264, '-c:a', 'aac'], true],
  ['h264-faststart-aac-5.1.mp4', [...v(1), ...a(48000, 1, '5.1'), ...x264, '-c:a', 'aac', '-movflags', '+faststart'], true],
  ['h264-odd-size.mp4', [...v(1, '30', '98x62'), ...x264], true],
  ['h264-90k-timescale.mp4', [...v(1, '30'), ...x264, '-video_track_timescale', '90000'], true],
  ['h264-aac.mov', [...v(1), ...a(48000, 1), ...x264, '-c:a', 'aac', '-f', 'mov'], true],
  ['audio-first.mp4', [...v(1), ...a(22050, 1), '-map', '1', '-map', '0', ...x264, '-c:a', 'aac'], true],
  ['two-audio.mp4', [...v(1), ...a(16000, 1), ...a(32000, 1, 'stereo'), '-map', '0', '-map', '1', '-map', '2', ...x264, '-c:a', 'aac'], true],
  ['h264-aac.3gp', [...v(1, '15', '176x144'), ...a(8000, 1), ...x264, '-c:a', 'aac', '-f', '3gp'], true],
  ['hevc.mp4', [...v(1), '-c:v', 'libx265', '-preset', 'ultrafast', '-x265-params', 'log-level=none', '-tag:v', 'hvc1'], true],
  ['hevc-hev1.mp4', [...v(1, '30', '66x50'), '-c:v', 'libx265', '-preset', 'ultrafast', '-x265-params', 'log-level=none'], true],
  ['mpeg4.mp4', [...v(1), '-c:v', 'mpeg4'], true],
  ['vp9.mp4', [...v(1), '-c:v', 'libvpx-vp9', '-deadline', 'realtime'], true],
  ['vp9-opus.mp4', [...v(1), ...a(48000, 1), '-c:v', 'libvpx-vp9', '-deadline', 'realtime', '-c:a', 'libopus'], false],
  ['av1.mp4', [...v(0.4), '-c:v', 'libaom-av1', '-cpu-used', '8', '-b:v', '50k'], true],
  ['mjpeg.mov', [...v(1), '-c:v', 'mjpeg', '-f', 'mov'], true],
  ['aac-44k-mono.m4a', [...a(44100, 3), '-c:a', 'aac', '-f', 'ipod'], true],
  ['aac-long.m4a', [...a(8000, 20), '-c:a', 'aac', '-f', 'ipod'], true],
  ['alac-24bit-stereo.m4a', [...a(44100, 1, 'stereo'), '-c:a', 'alac', '-sample_fmt', 's32p', '-f', 'ipod'], true],
  ['mp3.mp4', [...a(44100, 1), '-c:a', 'libmp3lame'], false],
  ['ac3.mp4', [...a(48000, 1, 'stereo'), '-c:a', 'ac3'], false],
  ['eac3.mp4', [...a(48000, 1, 'stereo'), '-c:a', 'eac3'], false],
  ['flac.mp4', [...a(44100, 1), '-c:a', 'flac', '-strict', '-2'], false],
  ['opus.mp4', [...a(48000, 1), '-c:a', 'libopus'], false],
];

/**
 * Writes the display matrix of the first track header (tkhd version 0, ISO/IEC 14496-12 §8.3.2):
 * a, b, c, d in 16.16 fixed point (x, y = 0; u, v = 0; w = 1.0 in 2.30).
 */
function setMatrix(file: string, [ma, mb, mc, md]: number[]): void {
  const buf = readFileSync(file);
  const at = buf.indexOf('tkhd', 0, 'latin1');
  if (at < 0 || buf[at + 4] !== 0) throw new Error('no version 0 tkhd');
  const m = at + 4 + 4 + 20 + 16;
  [ma, mb, 0, mc, md, 0, 0, 0].forEach((x, i) => buf.writeInt32BE(Math.round((x ?? 0) * 65536), m + i * 4));
  buf.writeInt32BE(1 << 30, m + 32);
  writeFileSync(file, buf);
}

const cos30 = Math.cos(Math.PI / 6);
/** [name, matrix a b c d]: the quarter turns, a mirror, and turns that are not quarter turns. */
const matrices: [string, number[]][] = [
  ['rotate-90.mp4', [0, 1, -1, 0]],
  ['rotate-180.mp4', [-1, 0, 0, -1]],
  ['rotate-270.mov', [0, -1, 1, 0]],
  ['mirrored.mp4', [-1, 0, 0, 1]],
  ['turn-30.mp4', [cos30, 0.5, -0.5, cos30]],
  ['turn-45.mp4', [Math.SQRT1_2, Math.SQRT1_2, -Math.SQRT1_2, Math.SQRT1_2]],
  ['scaled-270.mp4', [0, -2, 2, 0]],
];
for (const [name, matrix] of matrices) {
  variants.push([`matrix-${name}`, [...v(1), ...x264, '-f', name.endsWith('.mov') ? 'mov' : 'mp4'], true]);
  matrixOf.set(`matrix-${name}`, matrix);
}

describe('the reader gives what ffprobe gives (variants made with ffmpeg)', () => {
  it.each(variants)('%s', async (name, args, mustRead) => {
    const file = path.join(tmp, name);
    execFileSync('ffmpeg', ['-v', 'error', '-y', ...args, ...exact, file], { stdio: 'pipe' });
    const matrix = matrixOf.get(name);
    if (matrix) setMatrix(file, matrix);
    const expected = await viaFfprobe(file);
    expect(expected).not.toBeInstanceOf(Error);
    const read = await readMp4(file, input(file).mimeType);
    if (mustRead) expect(await mp4ReaderRefusal(file, input(file).mimeType)).toBeUndefined();
    if (read) expect(read.section).toEqual(expected);
  }, 60_000);
});

describe('facts known from how the fixtures were made', () => {
  const read = async (rel: string, mime = 'video/mp4') => (await readMp4(path.join(fixturesDir, rel), mime))?.section;

  it('reads the clockwise rotation exiftool wrote (90 and 270)', async () => {
    expect(await read('video/rotate-90.mp4')).toMatchObject({ rotation: 90, width: 64, height: 48, displayWidth: 48, displayHeight: 64 });
    expect(await read('video/rotate-270.mp4')).toMatchObject({ rotation: 270, displayWidth: 48, displayHeight: 64 });
  });

  it('three-frames.mp4: 3 frames at 25 fps, 0.12 s', async () => {
    expect(await read('video/three-frames.mp4')).toMatchObject({ frameCount: 3, fps: 25, durationSec: 0.12, videoCodec: 'h264' });
  });

  it('vfr.mp4: 10 frames at 25 fps then 6 at 10 fps: 16 frames in 1 s, average 16 fps', async () => {
    expect(await read('video/vfr.mp4')).toMatchObject({ frameCount: 16, fps: 16, durationSec: 1 });
  });

  it('mono AAC at 24 kHz reads as mono from the AudioSpecificConfig; the edit list hides the priming (1 s)', async () => {
    expect(await read('audio/aac-24k-mono.m4a', 'audio/x-m4a')).toMatchObject({ codec: 'aac', sampleRate: 24000, channels: 1, durationSec: 1 });
    expect(await readMp4(path.join(fixturesDir, 'video/audio-only.mp4'), 'video/mp4')).toMatchObject({ dataType: 'audio' });
  });

  it('cover art is not video: the MP4 with only a cover picture is audio', async () => {
    expect(await readMp4(path.join(fixturesDir, 'video/cover-art.mp4'), 'video/mp4')).toMatchObject({ dataType: 'audio' });
  });

  it('mpeg4.mov is QuickTime (major brand "qt  ")', async () => {
    expect(await read('video/mpeg4.mov', 'video/quicktime')).toMatchObject({ container: 'mov', videoCodec: 'mpeg4', frameCount: 25 });
  });

  it('ALAC: 16 bits per sample from its configuration box', async () => {
    expect(await read('audio/alac-8k-mono.m4a', 'audio/x-m4a')).toMatchObject({ codec: 'alac', bitsPerSample: 16, lossless: true });
  });

  it('a matrix turned 180 degrees reads 180 (ffmpeg needed to make the file)', async () => {
    const file = path.join(tmp, 'fact-180.mp4');
    execFileSync('ffmpeg', ['-v', 'error', '-y', ...v(1), ...x264, ...exact, file]);
    setMatrix(file, [-1, 0, 0, -1]);
    expect((await readMp4(file, 'video/mp4'))?.section).toMatchObject({ rotation: 180, displayWidth: 64 });
  });
});

/** A copy of a fixture with `edit` applied to its bytes, in the temp dir. */
function edited(fixture: string, name: string, edit: (buf: Buffer) => Buffer | void): string {
  const buf = readFileSync(path.join(fixturesDir, fixture));
  const out = edit(buf) ?? buf;
  const file = path.join(tmp, name);
  writeFileSync(file, out);
  return file;
}

/** Byte offset of the first box of `type` (its size field) in `buf`. */
function boxAt(buf: Buffer, type: string, from = 0): number {
  const at = buf.indexOf(type, from, 'latin1');
  if (at < 4) throw new Error(`no ${type} box`);
  return at - 4;
}

describe('hostile and odd files: undefined (ffprobe decides), never a throw', () => {
  const base = 'video/h264-aac-faststart.mp4';
  const cases: [string, (buf: Buffer) => Buffer | void][] = [
    ['moov cut in half (file ends inside it)', (b) => b.subarray(0, boxAt(b, 'moov') + 400)],
    ['moov declares more bytes than the file holds', (b) => void b.writeUInt32BE(0x7fffffff, boxAt(b, 'moov'))],
    ['moov with a 64-bit size of 2^62', (b) => {
      const at = boxAt(b, 'moov');
      const head = Buffer.alloc(16);
      head.writeUInt32BE(1, 0);
      head.write('moov', 4, 'latin1');
      head.writeBigUInt64BE(2n ** 62n, 8);
      return Buffer.concat([b.subarray(0, at), head, b.subarray(at + 8)]);
    }],
    ['a trak that declares 4 GiB', (b) => void b.writeUInt32BE(0xfffffff0, boxAt(b, 'trak'))],
    ['a box of size 3 inside moov', (b) => void b.writeUInt32BE(3, boxAt(b, 'mvhd'))],
    ['stts with 2^32-1 entries', (b) => void b.writeUInt32BE(0xffffffff, boxAt(b, 'stts') + 12)],
    ['stts with a negative sample delta', (b) => void b.writeUInt32BE(0x80000000, boxAt(b, 'stts') + 20)],
    ['stts whose counts overflow 31 bits', (b) => void b.writeUInt32BE(0xfffffff0, boxAt(b, 'stts') + 16)],
    ['stsd with 2 sample descriptions', (b) => void b.writeUInt32BE(2, boxAt(b, 'stsd') + 12)],
    ['stsd with 2^32-1 sample descriptions', (b) => void b.writeUInt32BE(0xffffffff, boxAt(b, 'stsd') + 12)],
    ['mvhd timescale 0', (b) => void b.writeUInt32BE(0, boxAt(b, 'mvhd') + 20)],
    ['mvhd duration 0', (b) => void b.writeUInt32BE(0, boxAt(b, 'mvhd') + 24)],
    ['an avcC whose SPS length runs past the box', (b) => void b.writeUInt16BE(0xffff, boxAt(b, 'avcC') + 14)],
    ['an esds whose descriptor length runs past the box', (b) => void b.writeUInt8(0x7f, boxAt(b, 'esds') + 13)],
    ['HE-AAC (object type 5) in the AudioSpecificConfig', (b) => {
      const esds = boxAt(b, 'esds');
      const dsi = b.indexOf(Buffer.from([0x05]), esds + 12 + 20);
      b.writeUInt8((5 << 3) | (b.readUInt8(dsi + 2) & 7), dsi + 2);
    }],
    ['an unknown video codec (sample entry renamed)', (b) => void b.write('zzzz', boxAt(b, 'stsd') + 20, 'latin1')],
    ['an empty edit before the media (elst media_time -1)', (b) => {
      const elst = boxAt(b, 'elst');
      b.writeUInt32BE(0xffffffff, elst + 20);
    }],
    ['a movie extends box (fragmented)', (b) => void b.write('mvex', boxAt(b, 'udta') + 4, 'latin1')],
    ['no moov at all', (b) => void b.write('free', boxAt(b, 'moov') + 4, 'latin1')],
  ];

  it.each(cases)('%s', async (name, edit) => {
    const file = edited(base, `hostile-${name.replace(/\W+/g, '-')}.mp4`, edit);
    await expect(readMp4(file, 'video/mp4')).resolves.toBeUndefined();
  });

  it('a moov over the cap (64 MiB, sparse file) is left to ffprobe without reading it', async () => {
    const file = path.join(tmp, 'huge-moov.mp4');
    const head = Buffer.alloc(8);
    head.writeUInt32BE(65 * 1024 * 1024 + 8, 0);
    head.write('moov', 4, 'latin1');
    writeFileSync(file, head);
    execFileSync('truncate', ['-s', String(65 * 1024 * 1024 + 8), file]);
    await expect(readMp4(file, 'video/mp4')).resolves.toBeUndefined();
    expect(await mp4ReaderRefusal(file, 'video/mp4')).toBe('moov too large');
  });

  it('10,000 random byte changes inside the moov: each read resolves (no throw, no hang)', async () => {
    const buf = readFileSync(path.join(fixturesDir, base));
    const moov = boxAt(buf, 'moov');
    const moovEnd = moov + buf.readUInt32BE(moov);
    let seed = 7;
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) >>> 0;
      return seed % n;
    };
    const file = path.join(tmp, 'fuzz.mp4');
    let read = 0;
    for (let i = 0; i < 2_000; i++) {
      const copy = Buffer.from(buf);
      for (let k = 0; k < 5; k++) copy[moov + 8 + rand(moovEnd - moov - 8)] = rand(256);
      writeFileSync(file, copy);
      const out = await readMp4(file, 'video/mp4');
      if (out) read++;
    }
    // Some changes hit bytes the reader does not look at (names, flags), so some files still read.
    expect(read).toBeGreaterThan(0);
  }, 120_000);
});

describe('files the reader refuses (ffmpeg needed to make them)', () => {
  it.each([
    ['fragmented MP4', [...v(1), ...x264, '-movflags', 'frag_keyframe+empty_moov'], 'fragmented.mp4'],
    ['PNG video (a codec the reader does not know)', [...v(1), '-c:v', 'png', '-f', 'mov'], 'png.mov'],
    ['ProRes', [...v(1), '-c:v', 'prores', '-f', 'mov'], 'prores.mov'],
    ['PCM audio in MOV', [...a(8000, 1), '-c:a', 'pcm_s16le', '-f', 'mov'], 'pcm.mov'],
  ])('%s', async (_name, args, name) => {
    const file = path.join(tmp, name);
    execFileSync('ffmpeg', ['-v', 'error', '-y', ...args, ...exact, file], { stdio: 'pipe' });
    await expect(readMp4(file, input(file).mimeType)).resolves.toBeUndefined();
  }, 60_000);
});

describe('an edit list that starts inside the media (stream copy from a non-key frame; ffmpeg needed)', () => {
  it('reads as ffprobe does: nb_frames counts every sample of the sample table, the edit changes none of the figures', async () => {
    const src = path.join(tmp, 'trim-source.mp4');
    const file = path.join(tmp, 'trimmed.mp4');
    execFileSync('ffmpeg', ['-v', 'error', '-y', ...v(3), ...a(24000, 3), ...x264, '-g', '10', '-c:a', 'aac', ...exact, src]);
    execFileSync('ffmpeg', ['-v', 'error', '-y', '-ss', '0.3', '-i', src, '-c', 'copy', '-t', '1', ...exact, file]);
    const expected = await viaFfprobe(file);
    expect(await mp4ReaderRefusal(file, 'video/mp4')).toBeUndefined();
    expect((await readMp4(file, 'video/mp4'))?.section).toEqual(expected);
  }, 60_000);
});
