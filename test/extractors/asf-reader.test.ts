/**
 * The in-process ASF reader must give exactly what the ffprobe path gives (probeVideo with
 * `asfReader: false`), or undefined. Checked three ways: facts written from how each file was made, a
 * differential run against ffprobe on the same file, and hostile bytes that must never throw.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AudioInfo } from '../../src/contract.js';
import { asfReaderRefusal, readAsf } from '../../src/extractors/asf-reader.js';
import type { ExtractInput } from '../../src/extractors/extractor.js';
import { defaultFfprobePath } from '../../src/extractors/ffprobe.js';
import { probeVideo } from '../../src/extractors/video.js';
import { prng } from '../../scripts/fuzz.js';
import { fixturesDir, testExtractConfig } from '../helpers/fixtures.js';
import { ffprobePathOutcome, tempWriter } from '../helpers/reader-tests.js';

const tmp = mkdtempSync(path.join(tmpdir(), 'asf-reader-test-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const wma = path.join(fixturesDir, 'audio', 'wmav2-22k-mono.wma');
const wmv = path.join(fixturesDir, 'video', 'wmv2-wmav2.wmv');

/** file-type names every ASF file `asf`; an audio-only one `audio/x-ms-asf`. */
function inputOf(file: string, mimeType = 'audio/x-ms-asf'): ExtractInput {
  return { dataType: 'audio', mimeType, ext: 'asf', path: file, sizeBytes: statSync(file).size };
}

/** What the ffprobe path gives, or the error it throws (as a string). */
const viaFfprobe = (input: ExtractInput) => ffprobePathOutcome(input, { asfReader: false });

/** The reader agrees with ffprobe exactly or declines, and declines only on purpose (never a stray exception). */
async function expectSameOrUndefined(file: string): Promise<AudioInfo | undefined> {
  const label = path.basename(file);
  const mine = readAsf(file);
  expect(asfReaderRefusal(file) ?? '', label).not.toMatch(/^error:/);
  if (mine !== undefined) expect({ dataType: 'audio', mimeType: 'audio/x-ms-asf', section: mine }, label).toEqual(await viaFfprobe(inputOf(file)));
  return mine;
}

const writeTmp = tempWriter(tmp);

// --- ASF objects by hand (ASF specification 1.20; a GUID's first three fields are stored little-endian). ---
function guid(text: string): Buffer {
  const [a = '', b = '', c = '', d = '', e = ''] = text.split('-');
  const le = (h: string) => Buffer.from(h, 'hex').reverse();
  return Buffer.concat([le(a), le(b), le(c), Buffer.from(d + e, 'hex')]);
}
const G = {
  header: guid('75B22630-668E-11CF-A6D9-00AA0062CE6C'),
  fileProperties: guid('8CABDCA1-A947-11CF-8EE4-00C00C205365'),
  streamProperties: guid('B7DC0791-A9B7-11CF-8EE6-00C00C205365'),
  headerExtension: guid('5FBF03B5-A92E-11CF-8EE3-00C00C205365'),
  reserved1: guid('ABD3D211-A9BA-11CF-8EE6-00C00C205365'),
  extStreamProperties: guid('14E6A5CB-C672-4332-8399-A96952065B5A'),
  videoMedia: guid('BC19EFC0-5B4D-11CF-A8FD-00805F5C442B'),
  sampleDuration: guid('C6BD9450-867F-4907-83A3-C77921B733AD'),
};
const u16 = (v: number) => Buffer.from([v & 0xff, v >> 8]);
const u32 = (v: number) => { const b = Buffer.alloc(4); b.writeUInt32LE(v); return b; };
const u64 = (v: bigint) => { const b = Buffer.alloc(8); b.writeBigUInt64LE(v); return b; };
const object = (id: Buffer, ...body: Buffer[]): Buffer => Buffer.concat([id, u64(BigInt(24 + Buffer.concat(body).length)), ...body]);

/** The top-level header objects of a file and everything from the Data Object on. */
function split(bytes: Buffer): { objects: Buffer[]; rest: Buffer } {
  const end = Number(bytes.readBigUInt64LE(16));
  const objects: Buffer[] = [];
  for (let at = 30; at < end; at += Number(bytes.readBigUInt64LE(at + 16))) objects.push(bytes.subarray(at, at + Number(bytes.readBigUInt64LE(at + 16))));
  return { objects, rest: bytes.subarray(end) };
}
const isObject = (o: Buffer, id: Buffer) => o.subarray(0, 16).equals(id);

/** Header Object (size, count) around `objects`, and the File Properties' file size made true. */
function join(objects: Buffer[], rest: Buffer): Buffer {
  const size = 30 + objects.reduce((n, o) => n + o.length, 0);
  const out = Buffer.concat([G.header, u64(BigInt(size)), u32(objects.length), Buffer.from([1, 2]), ...objects, rest]);
  out.writeBigUInt64LE(BigInt(out.length), fileProperties(out) + 16);
  return out;
}
/** Offset of the File Properties Object's body. */
const fileProperties = (b: Buffer) => b.indexOf(G.fileProperties) + 24;
/** Offset of the (first) Stream Properties Object's WAVEFORMATEX. */
const waveFormat = (b: Buffer) => b.indexOf(G.streamProperties) + 24 + 54;

/** The fixture with `edit` applied to a copy of its bytes. */
function edited(edit: (b: Buffer) => void, from: Buffer = readFileSync(wma)): Buffer {
  const b = Buffer.from(from);
  edit(b);
  return b;
}

/** The fixture with a Header Extension holding `nested` in place of its empty one. */
function withExtension(...nested: Buffer[]): Buffer {
  const { objects, rest } = split(readFileSync(wma));
  const inner = Buffer.concat(nested);
  const ext = object(G.headerExtension, G.reserved1, u16(6), u32(inner.length), inner);
  return join(objects.map((o) => (isObject(o, G.headerExtension) ? ext : o)), rest);
}

/** An Extended Stream Properties Object for `stream`: 64 bytes of fields, then names, extensions, `tail`. */
function extStream(stream: number, { payloadExtensions = 0, tail = Buffer.alloc(0) }: { payloadExtensions?: number; tail?: Buffer } = {}): Buffer {
  const fields = Buffer.alloc(64);
  fields.writeUInt16LE(stream, 48);
  fields.writeUInt16LE(payloadExtensions, 62);
  const extensions = Array.from({ length: payloadExtensions }, () => Buffer.concat([G.sampleDuration, u16(2), u32(0)]));
  return object(G.extStreamProperties, fields, ...extensions, tail);
}

/** The fixture's Stream Properties Object, renumbered. */
function streamObject(stream: number): Buffer {
  const sp = Buffer.from(split(readFileSync(wma)).objects.find((o) => isObject(o, G.streamProperties)) as Buffer);
  sp.writeUInt16LE(stream, 24 + 48);
  return sp;
}

describe('readAsf on the fixtures', () => {
  it('wmav2-22k-mono.wma: WMA 2, 22.05 kHz mono, 1021 ms (22 frames of 1024 samples, whole milliseconds)', () => {
    const size = statSync(wma).size;
    expect(readAsf(wma)).toEqual({
      container: 'asf', codec: 'wmav2', durationSec: 1.021, sampleRate: 22050, channels: 1,
      bitRate: Math.round((size * 8) / 1.021), lossless: false,
    });
  });

  it('wmav2-22k-mono.wma: the same answer as the ffprobe path, under every MIME type detection gives ASF', async () => {
    for (const mimeType of ['audio/x-ms-asf', 'application/vnd.ms-asf', 'video/x-ms-asf']) {
      const ffprobe = await probeVideo(inputOf(wma, mimeType), testExtractConfig(), { asfReader: false });
      expect(await probeVideo(inputOf(wma, mimeType), testExtractConfig())).toEqual(ffprobe);
    }
  });

  it('wmav2-22k-mono.wma: no ffprobe is started', async () => {
    const config = testExtractConfig({ ffprobePath: path.join(tmp, 'no-such-ffprobe') });
    await expect(probeVideo(inputOf(wma), config)).resolves.toMatchObject({ dataType: 'audio', section: { codec: 'wmav2' } });
    await expect(probeVideo(inputOf(wma), config, { asfReader: false })).rejects.toThrow(/cannot run ffprobe/);
  });

  it('wmv2-wmav2.wmv (a video stream beside the audio): declined', () => {
    expect(readAsf(wmv)).toBeUndefined();
    expect(asfReaderRefusal(wmv)).toBe('not an audio stream');
  });
});

describe('readAsf on edited headers: the ffprobe answer or undefined, as FFmpeg reads them', () => {
  const size = statSync(wma).size;
  const declaredSize = (n: bigint) => edited((b) => b.writeBigUInt64LE(n, fileProperties(b) + 16));

  it.each([
    // asf_read_stream_properties sets the duration when 20 * |real - declared| < min(real, declared).
    ['declared size a little too big', declaredSize(BigInt(size + Math.floor((size - 1) / 20))), true],
    ['declared size a little too small', declaredSize(BigInt(size - Math.floor((size - 1) / 21))), true],
    ['declared size 0 (FFmpeg trusts the play time)', declaredSize(0n), true],
    ['declared size negative as int64 (the same)', declaredSize(2n ** 64n - 1n), true],
    ['declared size 1/20 too big: no stream duration', declaredSize(BigInt(size + Math.ceil(size / 20))), false],
    ['declared size half the file', declaredSize(BigInt(size >> 1)), false],
    ['declared size huge', declaredSize(2n ** 62n), false],
    ['broadcast flag', edited((b) => b.writeUInt32LE(b.readUInt32LE(fileProperties(b) + 64) | 1, fileProperties(b) + 64)), false],
    ['preroll longer than the play time', edited((b) => b.writeUInt32LE(10_000, fileProperties(b) + 56)), false],
    ['high half of the preroll set (FFmpeg reads the low half)', edited((b) => b.writeUInt32LE(7, fileProperties(b) + 60)), true],
    ['WMA Pro tag', edited((b) => b.writeUInt16LE(0x0162, waveFormat(b))), false],
    ['WMA Voice tag', edited((b) => b.writeUInt16LE(0x000a, waveFormat(b))), false],
    ['three WMA channels', edited((b) => b.writeUInt16LE(3, waveFormat(b) + 2)), false],
    ['WMA at 96 kHz', edited((b) => b.writeUInt32LE(96_000, waveFormat(b) + 4)), false],
    ['WMA without a bit rate', edited((b) => b.writeUInt32LE(0, waveFormat(b) + 8)), false],
    ['WMA without a block size', edited((b) => b.writeUInt16LE(0, waveFormat(b) + 12)), false],
    ['a video stream type', edited((b) => G.videoMedia.copy(b, waveFormat(b) - 54)), false],
    ['Extended Stream Properties of the audio stream', withExtension(extStream(1)), true],
    ['Extended Stream Properties with a payload extension', withExtension(extStream(1, { payloadExtensions: 1 })), true],
    ['Extended Stream Properties of a stream without Stream Properties', withExtension(extStream(2)), false],
    ['Extended Stream Properties hiding a second audio stream', withExtension(extStream(2, { tail: streamObject(2) })), false],
    ['a second Stream Properties Object in the Header Extension', withExtension(streamObject(2)), false],
  ] as const)('%s', async (name, bytes, answers) => {
    const file = writeTmp(`edit-${name.replace(/\W+/g, '-')}.wma`, bytes);
    const mine = await expectSameOrUndefined(file);
    expect(mine !== undefined).toBe(answers);
  });

  it('a second audio stream is one FFmpeg sees too (why the reader declines it)', () => {
    const file = writeTmp('hidden-stream.wma', withExtension(extStream(2, { tail: streamObject(2) })));
    const streams = execFileSync(defaultFfprobePath(), ['-v', 'error', '-show_entries', 'stream=codec_type', '-of', 'csv=p=0', file], { encoding: 'utf8' });
    expect(streams.trim().split('\n')).toEqual(['audio', 'audio']);
  });
});

describe('readAsf on hostile bytes: never throws, undefined or the ffprobe answer', () => {
  const base = readFileSync(wma);
  const headerEnd = Number(base.readBigUInt64LE(16));
  const cases: [string, Buffer][] = [
    ['zero-length file', Buffer.alloc(0)],
    ['the Header GUID only', base.subarray(0, 16)],
    ['Header Object size 2^63', edited((b) => b.writeBigUInt64LE(2n ** 63n, 16))],
    ['Header Object size 2^64 - 1', edited((b) => b.writeBigUInt64LE(2n ** 64n - 1n, 16))],
    ['Header Object size past the end', edited((b) => b.writeBigUInt64LE(BigInt(b.length + 1), 16))],
    ['object count off by one', edited((b) => b.writeUInt32LE(b.readUInt32LE(24) + 1, 24))],
    ['first object size 2^64 - 1', edited((b) => b.writeBigUInt64LE(2n ** 64n - 1n, 30 + 16))],
    ['first object size 0', edited((b) => b.writeBigUInt64LE(0n, 30 + 16))],
    ['WAVEFORMATEX size 2^32 - 1', edited((b) => b.writeUInt32LE(2 ** 32 - 1, waveFormat(b) - 14))],
    ['sample rate 2^32 - 1', edited((b) => b.writeUInt32LE(2 ** 32 - 1, waveFormat(b) + 4))],
    ['play time 2^64 - 1', edited((b) => b.writeBigUInt64LE(2n ** 64n - 1n, fileProperties(b) + 40))],
    ['minimum packet size 2^29', edited((b) => b.writeUInt32LE(2 ** 29, fileProperties(b) + 68))],
    ['stream name length past the object', withExtension(edited((b) => b.writeUInt16LE(1, 24 + 60), extStream(1, { tail: Buffer.concat([u16(0), u16(0xffff)]) })))],
    ['65535 payload extensions declared', withExtension(edited((b) => b.writeUInt16LE(0xffff, 24 + 62), extStream(1)))],
    ['a Header Extension inside a Header Extension', withExtension(object(G.headerExtension, G.reserved1, u16(6), u32(0)))],
  ];
  for (let cut = 0; cut < headerEnd + 60; cut += 7) cases.push([`cut at ${cut} bytes`, base.subarray(0, cut)]);
  for (let cut = headerEnd + 60; cut < base.length; cut += 331) cases.push([`cut at ${cut} bytes (in the data)`, base.subarray(0, cut)]);
  // Within 1/20 of the declared size FFmpeg still takes the header's duration: these cuts are answered.
  for (let cut = base.length - 1; cut > base.length * 0.94; cut -= 41) cases.push([`cut at ${cut} bytes (near the end)`, base.subarray(0, cut)]);
  const rng = prng(0x4153);
  for (let i = 0; i < 200; i++) {
    const b = Buffer.from(base);
    const flips = 1 + Math.floor(rng() * 3);
    for (let f = 0; f < flips; f++) b[Math.floor(rng() * (headerEnd + 50))] = Math.floor(rng() * 256);
    cases.push([`random bytes in the header #${i}`, b]);
  }

  it('never throws, and every answer is the ffprobe answer', async () => {
    let answered = 0;
    for (const [name, bytes] of cases) {
      const file = writeTmp(`hostile-${name.replace(/\W+/g, '-')}.wma`, bytes);
      if (await expectSameOrUndefined(file)) answered++;
    }
    // Cuts near the end and flips in bytes FFmpeg ignores (file ID, codec list text) still read.
    expect(answered).toBeGreaterThan(20);
  });
});

describe('readAsf vs the ffprobe path on ffmpeg-made files', () => {
  const tone = (rate: number, seconds: number) => ['-f', 'lavfi', '-i', `sine=frequency=440:sample_rate=${rate}:duration=${seconds}`];
  /**
   * [file, ffmpeg args, what the reader must say (hand-written from the args; undefined = declines), and
   * the length of the whole WMA frames coded]. WMA codes whole frames of 512 (up to 16 kHz), 1024 (up to
   * 22.05 kHz) or 2048 samples; ASF keeps milliseconds (tolerance 2 ms, as the fixture's expected.json).
   */
  const made: [string, string[], Partial<AudioInfo> | undefined, number?][] = [
    ['wmav1-44k-mono.wma', [...tone(44100, 2), '-c:a', 'wmav1', '-b:a', '64k'],
      { codec: 'wmav1', sampleRate: 44100, channels: 1, lossless: false }, (44 * 2048) / 44100],
    ['wmav1-16k-mono.wma', [...tone(16000, 0.5), '-c:a', 'wmav1', '-b:a', '32k'],
      { codec: 'wmav1', sampleRate: 16000, channels: 1 }, (16 * 512) / 16000],
    ['wmav2-8k-mono.wma', [...tone(8000, 3), '-c:a', 'wmav2', '-b:a', '24k'],
      { codec: 'wmav2', sampleRate: 8000, channels: 1 }, (47 * 512) / 8000],
    ['wmav2-22k-stereo.wma', [...tone(22050, 1), '-ac', '2', '-c:a', 'wmav2', '-b:a', '48k'],
      { codec: 'wmav2', sampleRate: 22050, channels: 2 }, (22 * 1024) / 22050],
    ['wmav2-44k-stereo.wma', [...tone(44100, 2.5), '-ac', '2', '-c:a', 'wmav2', '-b:a', '128k'],
      { codec: 'wmav2', sampleRate: 44100, channels: 2 }, (54 * 2048) / 44100],
    ['wmav2-48k-stereo.wma', [...tone(48000, 1.5), '-ac', '2', '-c:a', 'wmav2', '-b:a', '128k'],
      { codec: 'wmav2', sampleRate: 48000, channels: 2 }, (36 * 2048) / 48000],
    ['wmav2-tags.wma', [...tone(22050, 1), '-c:a', 'wmav2', '-b:a', '32k', '-metadata', 'title=Tone', '-metadata', 'artist=Someone',
      '-metadata', 'album=Album', '-metadata', 'genre=Test'], { codec: 'wmav2', channels: 1 }, (22 * 1024) / 22050],
    ['wmav2-long.wma', [...tone(8000, 20), '-c:a', 'wmav2', '-b:a', '24k'], { codec: 'wmav2' }, (313 * 512) / 8000],
    ['pcm-s16le.asf', [...tone(22050, 1), '-c:a', 'pcm_s16le', '-f', 'asf'],
      { codec: 'pcm_s16le', durationSec: 1, bitsPerSample: 16, lossless: true }],
    ['pcm-u8-stereo.asf', [...tone(8000, 1), '-ac', '2', '-c:a', 'pcm_u8', '-f', 'asf'],
      { codec: 'pcm_u8', channels: 2, durationSec: 1, bitsPerSample: 8, lossless: true }],
    ['pcm-alaw.asf', [...tone(8000, 1), '-c:a', 'pcm_alaw', '-f', 'asf'], { codec: 'pcm_alaw', bitsPerSample: 8, lossless: false }],
    ['pcm-mulaw.asf', [...tone(8000, 1), '-c:a', 'pcm_mulaw', '-f', 'asf'], { codec: 'pcm_mulaw', bitsPerSample: 8, lossless: false }],
    // WAVE_FORMAT_EXTENSIBLE (ffmpeg writes it for more than 16 bits or 2 channels), MP3, AAC, ADPCM: to ffprobe.
    ['pcm-s24le.asf', [...tone(8000, 1), '-c:a', 'pcm_s24le', '-f', 'asf'], undefined],
    ['pcm-s16le-6ch.asf', [...tone(8000, 1), '-ac', '6', '-c:a', 'pcm_s16le', '-f', 'asf'], undefined],
    ['mp3.asf', [...tone(22050, 1), '-c:a', 'libmp3lame', '-f', 'asf'], undefined],
    ['aac.asf', [...tone(44100, 1), '-c:a', 'aac', '-f', 'asf'], undefined],
    ['adpcm-ms.asf', [...tone(22050, 1), '-c:a', 'adpcm_ms', '-f', 'asf'], undefined],
    // asf_stream: the broadcast flag, and a chunk prefix before the header.
    ['broadcast.asf', [...tone(22050, 1), '-c:a', 'wmav2', '-b:a', '32k', '-f', 'asf_stream'], undefined],
    // A picture beside the audio is a second (video) stream in ASF.
    ['cover.wma', [...tone(22050, 1), '-f', 'lavfi', '-i', 'color=c=red:size=16x16:duration=0.04:rate=25', '-frames:v', '1',
      '-c:a', 'wmav2', '-b:a', '32k', '-c:v', 'png'], undefined],
  ];
  const files = new Map<string, string>();

  beforeAll(() => {
    for (const [name, args] of made) {
      const file = path.join(tmp, name);
      execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', ...args, file]);
      files.set(name, file);
    }
  });

  it.each(made)('%s', async (name, _args, expected, wholeFramesSec) => {
    const file = files.get(name) as string;
    const mine = await expectSameOrUndefined(file);
    if (expected === undefined) {
      expect(mine).toBeUndefined();
      return;
    }
    expect(mine).toBeDefined();
    expect(mine).toMatchObject({ container: 'asf', ...expected, bitRate: Math.round((statSync(file).size * 8) / (mine?.durationSec ?? 1)) });
    if (wholeFramesSec !== undefined) expect(Math.abs((mine?.durationSec ?? 0) - wholeFramesSec)).toBeLessThanOrEqual(0.002);
    if (!expected.bitsPerSample) expect(mine).not.toHaveProperty('bitsPerSample');
  });

  // ffmpeg writes more than 16 bits as WAVE_FORMAT_EXTENSIBLE; the plain tags, made by patching the tag in
  // place (the 22 extensible bytes become extradata), check the names riff.c gives them.
  it.each([
    ['pcm_s24le', 0x0001, 24],
    ['pcm_s32le', 0x0001, 32],
    ['pcm_f32le', 0x0003, 32],
  ] as const)('plain WAVEFORMATEX tag for %s', async (codec, tag, bits) => {
    const made = path.join(tmp, `${codec}-extensible.asf`);
    execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', ...tone(8000, 1), '-c:a', codec, '-f', 'asf', made]);
    const file = writeTmp(`${codec}-plain.asf`, edited((b) => b.writeUInt16LE(tag, waveFormat(b)), readFileSync(made)));
    const mine = await expectSameOrUndefined(file);
    expect(mine).toMatchObject({ codec, bitsPerSample: bits, lossless: true, durationSec: 1, sampleRate: 8000 });
  });
});
