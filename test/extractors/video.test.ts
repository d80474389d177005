/**
 * What the fixture table cannot show about the video extractor: ffprobe's lock-down (playlists and
 * concat lists that name other files), its deadline and kill, how many ffprobe processes a file costs,
 * and that another ffprobe build (FFPROBE_PATH) gives the same results.
 */
import { execFile, execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { detect } from '../../src/detect/detect.js';
import { CorruptAssetError, ExtractTimeoutError, WorkerFaultError } from '../../src/errors.js';
import { bundledFfprobeEnv } from '../../src/extractors/video/ffprobe-gconv.js';
import { defaultFfprobePath, ffprobeArgs, ffprobeTimeoutMs, runFfprobe } from '../../src/extractors/video/ffprobe.js';
import { PacketListing } from '../../src/extractors/video/packets.js';
import { extractVideo, probeVideo } from '../../src/extractors/video/video.js';
import { probeFile } from '../../src/probe.js';
import { fixturesDir, listFixtures, testExtractConfig } from '../helpers/fixtures.js';

const video = (name: string) => path.join(fixturesDir, 'video', name);
const tmp = mkdtempSync(path.join(tmpdir(), 'video-test-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** A script standing in for ffprobe; it runs with an empty environment, as ffprobe does. */
function fakeFfprobe(name: string, body: string): string {
  const file = path.join(tmp, name);
  writeFileSync(file, `#!/bin/sh\nPATH=/usr/bin:/bin\n${body}\n`);
  chmodSync(file, 0o755);
  return file;
}

/** An ffprobe that logs each start to `log` and then runs the real one. */
function countingFfprobe(log: string): string {
  return fakeFfprobe(`counting-${path.basename(log)}`, `echo run >> '${log}'\nexec '${defaultFfprobePath()}' "$@"`);
}

function runs(log: string): number {
  try {
    return readFileSync(log, 'utf8').split('\n').filter(Boolean).length;
  } catch {
    return 0;
  }
}

/** Running, as opposed to gone or a zombie (dead, waiting for its new parent to reap it). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

async function settle(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => 'resolved',
    (err: unknown) => err,
  );
}

describe('files that name other files are not followed', () => {
  const opts = { timeoutMs: 10_000 };

  it('an HLS playlist is refused the same way whether the file it names exists or not', async () => {
    const withSibling = await settle(runFfprobe(video('playlist-sibling.m3u8'), opts));
    const withMissing = await settle(runFfprobe(video('playlist-missing.m3u8'), opts));
    expect(withSibling).toBeInstanceOf(CorruptAssetError);
    expect((withSibling as Error).message).toMatch(/Format not on whitelist/);
    // Same refusal, word for word: the sibling (or its absence) made no difference, so it was not read.
    expect((withSibling as Error).message).toBe((withMissing as Error).message);
  });

  it('without the demuxer whitelist the same ffprobe would have read the sibling (the test above is not vacuous)', async () => {
    const { stdout } = await promisify(execFile)(defaultFfprobePath(), [
      '-v', 'quiet', '-protocol_whitelist', 'file', '-print_format', 'json', '-show_format',
      `file:${video('playlist-sibling.m3u8')}`,
    ], { env: bundledFfprobeEnv() });
    const format = (JSON.parse(stdout) as { format: { format_name: string; duration: string } }).format;
    expect(format.format_name).toMatch(/^hls/);
    expect(Number(format.duration)).toBe(2); // two 1 s segments: h264.ts, read through the playlist
  });

  it('an ffconcat list naming a sibling is refused', async () => {
    const err = await settle(runFfprobe(video('concat-sibling.ffconcat'), opts));
    expect(err).toBeInstanceOf(CorruptAssetError);
    expect((err as Error).message).toMatch(/Format not on whitelist/);
    expect((err as Error).message).not.toContain(fixturesDir);
  });

  it('detection calls both kinds of list text, so they never reach the video extractor', async () => {
    for (const f of ['playlist-sibling.m3u8', 'playlist-missing.m3u8', 'concat-sibling.ffconcat']) {
      expect((await detect(video(f))).dataType).toBe('text');
    }
  });
});

describe('ffprobe deadline', () => {
  it('kills a hanging ffprobe (and what it started) and reports EXTRACT_TIMEOUT', async () => {
    const pidFile = path.join(tmp, 'hang.pid');
    const childFile = path.join(tmp, 'hang.child');
    const hang = fakeFfprobe('hang.sh', `echo $$ > '${pidFile}'\nsleep 60 &\necho $! > '${childFile}'\nwait`);
    const started = Date.now();
    const err = await settle(
      extractVideo(
        { path: video('h264.ts'), sizeBytes: 1, dataType: 'video', mimeType: 'video/mp2t', ext: 'ts' },
        testExtractConfig({ timeoutMs: 1_500, ffprobePath: hang }),
      ),
    );
    const elapsed = Date.now() - started;
    expect(err).toBeInstanceOf(ExtractTimeoutError);
    expect((err as ExtractTimeoutError).code).toBe('EXTRACT_TIMEOUT');
    // Its own deadline is a little under the extraction's, so it fires before the thread is torn down.
    expect(elapsed).toBeGreaterThanOrEqual(ffprobeTimeoutMs(1_500) - 50);
    // Killed at its deadline, not waited for (the fake sleeps 60 s); the slack absorbs a busy machine.
    expect(elapsed).toBeLessThan(5_000);
    const pids = [readFileSync(pidFile, 'utf8'), readFileSync(childFile, 'utf8')].map((s) => Number(s.trim()));
    // The whole process group was killed; give init a moment to reap the orphaned sleep.
    for (let i = 0; i < 60 && pids.some(alive); i++) await new Promise((r) => setTimeout(r, 50));
    expect(pids.filter(alive)).toEqual([]);
  });

  it.each([
    ['missing', () => path.join(tmp, 'no-such-ffprobe')],
    ['not executable', () => { const f = path.join(tmp, 'not-executable'); writeFileSync(f, '#!/bin/sh\n'); chmodSync(f, 0o644); return f; }],
  ] as const)('an ffprobe that cannot be started (%s) is WORKER_FAULT, retried, never a verdict on the asset', async (_why, bin) => {
    const err = await settle(runFfprobe(video('h264-moov-at-end.mp4'), { timeoutMs: 5_000, ffprobePath: bin() }));
    expect(err).toBeInstanceOf(WorkerFaultError);
    expect(err).toMatchObject({ code: 'WORKER_FAULT', retriable: true });
    expect((err as Error).message).toMatch(/cannot run ffprobe .*check FFPROBE_PATH/);
  });

  it('the saved result of a video whose ffprobe cannot be started says WORKER_FAULT and what the bytes are', async () => {
    const result = await probeFile(video('h264-moov-at-end.mp4'), testExtractConfig({ ffprobePath: path.join(tmp, 'no-such-ffprobe') }));
    expect(result.status).toBe('failed');
    expect(result.error).toMatchObject({ code: 'WORKER_FAULT', retriable: true });
    expect(result).toMatchObject({ dataType: 'video', mimeType: 'video/mp4' });
  });

  it('ffprobe errors name no temp path', async () => {
    const err = await settle(runFfprobe(video('truncated.mp4'), { timeoutMs: 10_000 }));
    expect(err).toBeInstanceOf(CorruptAssetError);
    expect((err as Error).message).toMatch(/moov atom not found/);
    expect((err as Error).message).not.toContain(fixturesDir);
    expect((err as Error).message).not.toMatch(/0x[0-9a-f]{6,}/);
  });
});

describe('sample tables that claim more entries than the file holds', () => {
  /** 10 frames of 64x48 H.264 at 10 fps, index at the front; then one box's 32-bit entry count set to 0x7FFFFFFF. */
  function withEntryCount(box: 'stsz' | 'stco'): string {
    const made = path.join(tmp, 'ten-frames.mp4');
    execFileSync('ffmpeg', ['-v', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc=size=64x48:rate=10', '-t', '1',
      '-c:v', 'libx264', '-pix_fmt', 'yuv420p', '-movflags', '+faststart', made]);
    const bytes = readFileSync(made);
    // ISO/IEC 14496-12 §8.7.3 stsz: size, type, version+flags, sample_size, sample_count;
    // §8.7.5 stco: size, type, version+flags, entry_count.
    const at = bytes.indexOf(box) + (box === 'stsz' ? 12 : 8);
    expect(bytes.readUInt32BE(at)).toBe(box === 'stsz' ? 10 : 1);
    bytes.writeUInt32BE(0x7fffffff, at);
    const file = path.join(tmp, `${box}-0x7fffffff.mp4`);
    writeFileSync(file, bytes);
    return file;
  }

  it.each(['stsz', 'stco'] as const)('an %s entry count of 0x7FFFFFFF is CORRUPT_ASSET, as ffprobe refuses it', async (box) => {
    const result = await probeFile(withEntryCount(box), testExtractConfig());
    expect(result.status).toBe('failed');
    expect(result.error).toMatchObject({ code: 'CORRUPT_ASSET', retriable: false });
    expect(result.error?.message).toMatch(/^ffprobe cannot read the file/);
    expect(result.video).toBeUndefined();
  });
});

describe('the packet listing, read as it streams', () => {
  const output = (name: string) => execFileSync(defaultFfprobePath(), ffprobeArgs(video(name), true), { env: bundledFfprobeEnv(), encoding: 'latin1' });

  it.each([1, 7, 4096])('in chunks of %i characters: every packet counted, the rest is the JSON', (size) => {
    // vp9-opus.webm: 25 VP9 frames (stream 0); 1 s of Opus plus its 312-sample pre-skip in 20 ms packets: 51 (stream 1).
    const text = output('vp9-opus.webm');
    const listing = new PacketListing(1 << 20);
    for (let at = 0; at < text.length; at += size) listing.feed(text.slice(at, at + size));
    const json = JSON.parse(listing.text()) as { streams: unknown[]; packets?: unknown };
    expect(json.streams).toHaveLength(2);
    expect(json).not.toHaveProperty('packets');
    expect(listing.streams.get(0)?.count).toBe(25);
    expect(listing.streams.get(1)?.count).toBe(51);
  });

  it('a last packet without a duration is marked untimed; a duration of 2^31 ticks or more counts as none', () => {
    const listing = new PacketListing(1 << 20);
    listing.feed([
      '{',
      '    "packets": [',
      '        { "stream_index": 0, "pts": 46, "dts": 46, "size": "1753" },',
      '        { "stream_index": 1, "pts": 0, "dts": 0, "duration": 46, "size": "185" },',
      '        { "stream_index": 1, "pts": 46, "dts": 46, "duration": 4294967290, "size": "185" },',
      '        { "stream_index": 2, "pts": 0, "dts": 0, "size": "10" },',
      '        { "stream_index": 2, "pts": 0, "dts": 0, "duration": 40, "size": "10" }',
      '    ],',
      '}',
    ].join('\n'));
    expect(listing.streams.get(0)).toMatchObject({ start: 46, end: 46, untimedEnd: true });
    // The wrapped duration (-6 ticks) ends that packet where it starts, after the first packet's end.
    expect(listing.streams.get(1)).toMatchObject({ start: 0, end: 46, untimedEnd: true });
    expect(listing.streams.get(2)).toMatchObject({ start: 0, end: 40, untimedEnd: false });
  });

  it('a line or a remainder longer than its bound is CORRUPT_ASSET, not held', () => {
    expect(() => new PacketListing(100).feed('x'.repeat(101))).toThrow(CorruptAssetError);
    const text = output('h264.mkv');
    expect(() => new PacketListing(1000).feed(text)).toThrow(CorruptAssetError);
  });
});

describe('ffprobe processes per file', () => {
  const input = (name: string, mimeType: string) => ({
    path: video(name), sizeBytes: 1, dataType: 'video' as const, mimeType, ext: path.extname(name).slice(1),
  });

  it.each([
    ['h264-moov-at-end.mp4', 'video/mp4', 1], // nb_frames from the sample table
    ['truncated-faststart.mp4', 'video/mp4', 1], // cut inside mdat: packets listed in the one call (18 frames)
    ['mpeg4.avi', 'video/vnd.avi', 1], // packets listed in the one call
    ['h264.mkv', 'video/matroska', 1], // no count stored: packets listed in the one call
    ['h264.mkv', 'application/octet-stream', 1], // whatever the MIME type: only ISO BMFF has its index read
  ] as const)('%s as %s: %i process(es), 25 frames', async (name, mimeType, expected) => {
    const log = path.join(tmp, `runs-${name}-${mimeType.replace('/', '-')}-${expected}.log`);
    const out = await probeVideo(input(name, mimeType), testExtractConfig({ ffprobePath: countingFfprobe(log) }));
    expect(runs(log)).toBe(expected);
    expect(out.dataType === 'video' && out.section.frameCount).toBe(name.startsWith('truncated') ? 18 : 25);
  });
});

describe('another ffprobe build (FFPROBE_PATH)', () => {
  const systemFfprobe = execFileSync('sh', ['-c', 'command -v ffprobe'], { encoding: 'utf8' }).trim();
  const strip = ({ timingsMs: _t, processedAt: _p, assetId: _a, ...rest }: Awaited<ReturnType<typeof probeFile>>) => rest;

  it.each([...listFixtures('video'), ...listFixtures('audio')].map((f) => [path.relative(fixturesDir, f), f]))(
    '%s reads the same with the system ffprobe',
    async (_name, file) => {
      expect(systemFfprobe).not.toBe('');
      const bundled = await probeFile(file, testExtractConfig());
      const system = await probeFile(file, testExtractConfig({ ffprobePath: systemFfprobe }));
      expect(strip(system)).toEqual(strip(bundled));
    },
  );
});
