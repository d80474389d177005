/**
 * The in-process Matroska/WebM reader must give exactly what the ffprobe path gives (probeVideo with
 * `-count_packets`), or undefined. Checked three ways: hand-written facts from how each file was made,
 * a differential run against ffprobe on the same file, and hostile bytes that must never throw.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Extracted, ExtractInput } from '../../src/extractors/extractor.js';
import { avReduce, readMatroska } from '../../src/extractors/mkv-reader.js';
import { fixturesDir } from '../helpers/fixtures.js';
import { ffprobePathOutcome, tempWriter } from '../helpers/reader-tests.js';

const tmp = mkdtempSync(path.join(tmpdir(), 'mkv-reader-test-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function inputOf(file: string, mimeType = file.endsWith('.webm') ? 'video/webm' : 'video/matroska'): ExtractInput {
  const ext = path.extname(file).slice(1);
  return { dataType: 'video', mimeType, ext, path: file, sizeBytes: statSync(file).size };
}

/** What the ffprobe path gives today, or the error it throws (as a string). */
const viaFfprobe = (input: ExtractInput) => ffprobePathOutcome(input, { mkvReader: false });

/** The reader either agrees with ffprobe exactly or declines. */
async function expectSameOrUndefined(input: ExtractInput): Promise<Extracted | undefined> {
  const mine = await readMatroska(input);
  if (mine !== undefined) expect(mine).toEqual(await viaFfprobe(input));
  return mine;
}

// --- A tiny EBML writer for hand-made files (Matroska specification, RFC 9559). ---
function idBytes(id: number): Buffer {
  const hex = id.toString(16);
  return Buffer.from(hex.length % 2 ? `0${hex}` : hex, 'hex');
}
/** An 8-byte size vint (0x01 marker), as FFmpeg's muxer writes for masters it patches. */
function size8(n: number): Buffer {
  const b = Buffer.alloc(8);
  b[0] = 0x01;
  b.writeUIntBE(n, 2, 6);
  return b;
}
const el = (id: number, ...parts: Buffer[]): Buffer => {
  const body = Buffer.concat(parts);
  return Buffer.concat([idBytes(id), size8(body.length), body]);
};
const uint = (id: number, v: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(v);
  return el(id, b);
};
const f64 = (id: number, v: number): Buffer => {
  const b = Buffer.alloc(8);
  b.writeDoubleBE(v);
  return el(id, b);
};
const text = (id: number, s: string): Buffer => el(id, Buffer.from(s, 'latin1'));

const ebmlHeader = el(0x1a45dfa3, text(0x4282, 'matroska'), uint(0x4287, 4), uint(0x4285, 2));
/** Segment Info: 1 ms timestamps, duration in ms. */
const info = (durationMs: number): Buffer => el(0x1549a966, uint(0x2ad7b1, 1_000_000), f64(0x4489, durationMs));
/** One VP8 track, 64x48, 25 fps (DefaultDuration 40 ms). */
const vp8Track = el(
  0x1654ae6b,
  el(0xae, uint(0xd7, 1), uint(0x83, 1), text(0x86, 'V_VP8'), uint(0x23e383, 40_000_000), el(0xe0, uint(0xb0, 64), uint(0xba, 48))),
);
/** A SimpleBlock of track 1: track vint, timestamp, flags, then `rest` (lace header and frames). */
const simpleBlock = (tc: number, flags: number, rest: Buffer): Buffer => {
  const h = Buffer.alloc(4);
  h[0] = 0x81;
  h.writeInt16BE(tc, 1);
  h[3] = flags;
  return el(0xa3, h, rest);
};
const frame = (n: number): Buffer => Buffer.alloc(n, 0x5a);

/** 14 packets of track 1: 3 plain SimpleBlocks, Xiph (3), fixed (4) and EBML (3) lacing, one BlockGroup. */
function lacedFile(): Buffer {
  const xiph = Buffer.concat([Buffer.from([2, 10, 20]), frame(10), frame(20), frame(30)]);
  const fixed = Buffer.concat([Buffer.from([3]), frame(4 * 8)]);
  // EBML lacing: count-1, first size 10 (0x8a), then signed difference +5 (0xbf + 5 = 0xc4 in 1 byte).
  const ebml = Buffer.concat([Buffer.from([2, 0x8a, 0xc4]), frame(10), frame(15), frame(7)]);
  const blockHead = Buffer.from([0x81, 0, 0, 0]);
  blockHead.writeInt16BE(280, 1);
  const cluster = el(
    0x1f43b675,
    uint(0xe7, 0),
    simpleBlock(0, 0x80, frame(12)),
    simpleBlock(40, 0, frame(12)),
    simpleBlock(80, 0, frame(12)),
    simpleBlock(120, 0x02, xiph),
    simpleBlock(160, 0x04, fixed),
    simpleBlock(200, 0x06, ebml),
    el(0xa0, el(0xa1, blockHead, frame(12)), uint(0x9b, 40)),
  );
  return Buffer.concat([ebmlHeader, el(0x18538067, info(560), vp8Track, cluster)]);
}

const writeTmp = tempWriter(tmp);

describe('readMatroska on the fixtures', () => {
  it('h264.mkv: 25 frames of 64x48 H.264 at 25 fps over 1 s (scripts/fixtures/video.sh)', async () => {
    const file = path.join(fixturesDir, 'video', 'h264.mkv');
    const got = await readMatroska(inputOf(file));
    expect(got).toEqual({
      dataType: 'video',
      mimeType: 'video/matroska',
      section: {
        container: 'matroska', durationSec: 1, width: 64, height: 48, rotation: 0, displayWidth: 64, displayHeight: 48,
        fps: 25, frameCount: 25, videoCodec: 'h264', bitRate: Math.round(statSync(file).size * 8),
      },
    });
  });

  it('vp9-opus.webm: 25 VP9 frames, Opus 48 kHz mono, webm container', async () => {
    const file = path.join(fixturesDir, 'video', 'vp9-opus.webm');
    const got = await readMatroska(inputOf(file));
    expect(got?.dataType).toBe('video');
    if (got?.dataType !== 'video') return;
    expect(got.section).toMatchObject({
      container: 'webm', width: 64, height: 48, fps: 25, frameCount: 25, videoCodec: 'vp9',
      audio: { codec: 'opus', sampleRate: 48000, channels: 1 },
    });
    // The longest track (Opus, whose pre-skip pushes its last 20 ms packet past 1 s) sets the duration.
    expect(got.section.durationSec).toBeGreaterThanOrEqual(1);
    expect(got.section.durationSec).toBeLessThanOrEqual(1.02);
  });

  it.each(['h264.mkv', 'vp9-opus.webm'])('%s: the same answer as the ffprobe path', async (name) => {
    const input = inputOf(path.join(fixturesDir, 'video', name));
    const mine = await readMatroska(input);
    expect(mine).toBeDefined();
    expect(mine).toEqual(await viaFfprobe(input));
  });
});

describe('readMatroska on hand-made files', () => {
  it('counts one packet per lace (Xiph, fixed-size and EBML lacing) and per BlockGroup', async () => {
    const file = writeTmp('laced.mkv', lacedFile());
    const got = await readMatroska(inputOf(file));
    expect(got?.dataType).toBe('video');
    if (got?.dataType !== 'video') return;
    expect(got.section.frameCount).toBe(3 + 3 + 4 + 3 + 1);
    expect(got.section.durationSec).toBe(0.56);
    expect(got.section.fps).toBe(25);
    expect(got).toEqual(await viaFfprobe(inputOf(file)));
  });

  it('av_reduce as FFmpeg: 1e9 / DefaultDuration within 30000', () => {
    expect(avReduce(1_000_000_000n, 40_000_000n, 30_000n)).toEqual([25n, 1n]);
    // 23.976 fps stored as 41708333 ns (FFmpeg's muxer rounds 1001/24000 s to the nanosecond).
    expect(avReduce(1_000_000_000n, 41_708_333n, 30_000n)).toEqual([24000n, 1001n]);
    expect(avReduce(1_000_000_000n, 33_333_333n, 30_000n)).toEqual([30n, 1n]);
  });

  it('declines when asked to stop (AbortSignal, time budget)', async () => {
    const input = inputOf(path.join(fixturesDir, 'video', 'h264.mkv'));
    const ac = new AbortController();
    ac.abort();
    expect(await readMatroska(input, { signal: ac.signal })).toBeUndefined();
    expect(await readMatroska(input, { budgetMs: -1 })).toBeUndefined();
  });
});

describe('readMatroska on hostile bytes: never throws, undefined or the ffprobe answer', () => {
  const base = lacedFile();
  const cases: [string, Buffer][] = [
    ['zero-length file', Buffer.alloc(0)],
    ['EBML magic only', base.subarray(0, 4)],
    ['random bytes after the magic', Buffer.concat([base.subarray(0, 4), Buffer.from(Array.from({ length: 4000 }, (_, i) => (i * 7919) % 256))])],
    ['a zero byte where a size vint starts', (() => { const b = Buffer.from(base); b[4] = 0; return b; })()],
    ['the Tracks size past the end of the file', (() => {
      const b = Buffer.from(base);
      const at = b.indexOf(Buffer.from([0x16, 0x54, 0xae, 0x6b]));
      b.writeUIntBE(0xffffff, at + 4 + 2, 6);
      return b;
    })()],
    ['a BlockGroup size past its cluster', (() => {
      const b = Buffer.from(base);
      const at = b.lastIndexOf(Buffer.from([0xa0, 0x01]));
      b.writeUIntBE(0xffff, at + 1 + 2, 6);
      return b;
    })()],
    ['deep nesting of unknown-size masters', Buffer.concat([ebmlHeader, ...Array.from({ length: 5000 }, () => Buffer.from([0x18, 0x53, 0x80, 0x67, 0xff]))])],
    ['a block of a track that does not exist', (() => {
      const b = Buffer.from(base);
      const at = b.indexOf(Buffer.from([0xa3, 0x01]));
      b[at + 9] = 0x85;
      return b;
    })()],
    ['a Xiph lace header that overruns the block', (() => {
      const b = Buffer.from(base);
      const at = b.indexOf(Buffer.from([2, 10, 20, 0x5a]));
      b[at + 1] = 0xff;
      b[at + 2] = 0xff;
      return b;
    })()],
  ];
  for (let cut = 40; cut < base.length; cut += 37) cases.push([`cut at ${cut} bytes`, base.subarray(0, cut)]);

  it.each(cases)('%s', async (name, bytes) => {
    const file = writeTmp(`hostile-${name.replace(/\W+/g, '-')}.mkv`, bytes);
    await expectSameOrUndefined(inputOf(file));
  });

  it('counts only the whole blocks of a file cut in the middle of its cluster, as ffprobe does', async () => {
    const whole = lacedFile();
    // Cut inside the BlockGroup (the last element): the 13 packets before it remain.
    const file = writeTmp('cut-in-group.mkv', whole.subarray(0, whole.length - 10));
    const got = await expectSameOrUndefined(inputOf(file));
    expect(got?.dataType === 'video' && got.section.frameCount).toBe(13);
  });
});

/** Every Cluster's size rewritten to "unknown" (all ones, same length), as live WebM writers leave it. */
function unknownSizeClusters(bytes: Buffer): Buffer {
  const b = Buffer.from(bytes);
  const cluster = Buffer.from([0x1f, 0x43, 0xb6, 0x75]);
  for (let at = b.indexOf(cluster); at >= 0; at = b.indexOf(cluster, at + 4)) {
    const first = b[at + 4] as number;
    const len = Math.clz32(first) - 23;
    b[at + 4] = 0xff >> (len - 1);
    for (let i = 1; i < len; i++) b[at + 4 + i] = 0xff;
  }
  return b;
}

describe('readMatroska vs the ffprobe path on ffmpeg-made variants', () => {
  const ff = (out: string, ...args: string[]): string => {
    const file = path.join(tmp, out);
    execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', ...args, file]);
    return file;
  };
  const video = (rate: string, seconds: number, size = '64x48') => ['-f', 'lavfi', '-i', `testsrc=size=${size}:rate=${rate}:duration=${seconds}`];
  const tone = (rate: number, seconds: number) => ['-f', 'lavfi', '-i', `sine=frequency=440:sample_rate=${rate}:duration=${seconds}`];
  const x264 = ['-c:v', 'libx264', '-preset', 'ultrafast'];

  // [file, ffmpeg args, what the reader must say (hand-written from the args; undefined = declines)]
  const variants: [string, () => string[], Record<string, unknown> | undefined][] = [
    ['h264-aac.mkv', () => [...video('25', 2), ...tone(48000, 2), ...x264, '-c:a', 'aac'],
      { videoCodec: 'h264', frameCount: 50, fps: 25, audio: { codec: 'aac', sampleRate: 48000, channels: 1 } }],
    ['vp8-vorbis.webm', () => [...video('25', 2), ...tone(44100, 2), '-c:v', 'libvpx', '-c:a', 'libvorbis'],
      { videoCodec: 'vp8', frameCount: 50, fps: 25, container: 'webm', audio: { codec: 'vorbis', sampleRate: 44100, channels: 1 } }],
    ['opus.webm', () => [...tone(48000, 2), '-c:a', 'libopus'], { codec: 'opus', sampleRate: 48000, channels: 1, container: 'webm' }],
    ['flac.mka', () => [...tone(44100, 2), '-c:a', 'flac'], { codec: 'flac', sampleRate: 44100, bitsPerSample: 16, lossless: true }],
    ['vorbis.mka', () => [...tone(22050, 2), '-c:a', 'libvorbis'], { codec: 'vorbis', sampleRate: 22050 }],
    ['hevc.mkv', () => [...video('25', 2), '-c:v', 'libx265', '-preset', 'ultrafast', '-x265-params', 'log-level=none'],
      { videoCodec: 'hevc', frameCount: 50 }],
    ['ntsc.mkv', () => [...video('24000/1001', 3), ...x264], { frameCount: 72, fps: 24000 / 1001 }],
    ['clusters.mkv', () => [...video('25', 4), ...tone(48000, 4), ...x264, '-c:a', 'libopus', '-cluster_size_limit', '2000', '-cluster_time_limit', '100'],
      { frameCount: 100, audio: { codec: 'opus', sampleRate: 48000, channels: 1 } }],
    ['altref.webm', () => [...video('30', 2, '320x240'), '-c:v', 'libvpx-vp9', '-auto-alt-ref', '1', '-lag-in-frames', '16', '-b:v', '200k'],
      // Hidden alt-ref frames travel inside superframes: one packet per shown frame.
      { videoCodec: 'vp9', frameCount: 60, fps: 30 }],
    ['mpeg4.mkv', () => [...video('25', 2), '-c:v', 'mpeg4'], { videoCodec: 'mpeg4', frameCount: 50 }],
    // Half-rate AAC-LC may carry implicit SBR that doubles the decoder's rate: left to ffprobe.
    ['aac-24k.mkv', () => [...video('25', 2), ...tone(24000, 2), ...x264, '-c:a', 'aac'], undefined],
    // Live WebM: no Duration, unknown-size clusters: ffprobe's path has no duration either.
    ['live.webm', () => [...video('25', 2), '-c:v', 'libvpx', '-live', '1', '-f', 'webm'], undefined],
  ];

  it.each(variants)('%s', async (name, args, expected) => {
    const file = ff(name, ...args());
    const input = inputOf(file);
    const mine = await readMatroska(input);
    if (expected === undefined) {
      expect(mine).toBeUndefined();
      return;
    }
    expect(mine).toBeDefined();
    expect(mine?.section).toMatchObject(expected);
    expect(mine).toEqual(await viaFfprobe(input));
  });

  it('unknown-size clusters give the same count as known-size ones', async () => {
    const known = ff('known.mkv', ...video('25', 4), ...tone(48000, 4), ...x264, '-c:a', 'libopus', '-cluster_time_limit', '100');
    const file = writeTmp('unknown-size.mkv', unknownSizeClusters(readFileSync(known)));
    const got = await readMatroska(inputOf(file));
    expect(got?.dataType === 'video' && got.section.frameCount).toBe(100);
    expect(got).toEqual(await viaFfprobe(inputOf(file)));
  });

  it('truncated mid-cluster at many points: the ffprobe answer or undefined', async () => {
    const whole = readFileSync(ff('to-cut.mkv', ...video('25', 4), ...tone(48000, 4), ...x264, '-c:a', 'libopus', '-cluster_time_limit', '500'));
    let answered = 0;
    for (let cut = 2000; cut < whole.length; cut += Math.floor(whole.length / 7)) {
      const file = writeTmp(`cut-${cut}.mkv`, whole.subarray(0, cut));
      if (await expectSameOrUndefined(inputOf(file))) answered++;
    }
    expect(answered).toBeGreaterThan(0);
  });
});
