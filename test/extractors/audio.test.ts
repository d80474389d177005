/**
 * What the fixture table cannot show about the audio extractor: when ffprobe runs, that an MP3's VBR header
 * is taken only where the file holds what it states, and WAV headers the fixtures do not hold.
 */
import { chmodSync, copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { extractFile } from '../../src/extractors/extract-file.js';
import { readWavFormat } from '../../src/extractors/audio/wav.js';
import { defaultFfprobePath } from '../../src/extractors/video/ffprobe.js';
import { fixturesDir, testExtractConfig } from '../helpers/fixtures.js';

const audio = (name: string) => path.join(fixturesDir, 'audio', name);
const tmp = mkdtempSync(path.join(tmpdir(), 'audio-test-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** An ffprobe that logs each start to `log` and then runs the real one. */
function countingFfprobe(log: string): string {
  const file = path.join(tmp, `counting-${path.basename(log)}.sh`);
  writeFileSync(file, `#!/bin/sh\necho run >> '${log}'\nexec '${defaultFfprobePath()}' "$@"\n`);
  chmodSync(file, 0o755);
  return file;
}

function runs(log: string): number {
  try {
    return readFileSync(log, 'utf8').split('\n').filter(Boolean).length;
  } catch {
    return 0;
  }
}

/**
 * ffprobe runs only where music-metadata's or the WAV header's length cannot be shown to be what the file
 * holds (audio.ts): none for a whole MP3 with a Xing/Info header, an Ogg (cut or not: its pages are read to
 * the end), a whole WAV or AIFF; one where a header's claim does not fit the file, where nothing states a
 * length, for FLAC, ADTS and what music-metadata does not read, and for MP4 (the video extractor).
 */
describe('ffprobe processes a file', () => {
  it.each([
    ['pcm-s16le-8k-mono.wav', 0],
    ['pcm-s32le-8k-mono.wav', 0], // WAVE_FORMAT_EXTENSIBLE: named from our own read of the header
    ['g726-8k-mono.wav', 0], // named from our own read of the header; its fact chunk states the samples
    ['truncated.wav', 1], // the data chunk runs past the end
    ['pcm-s16be-8k-mono.aiff', 0],
    ['truncated.aiff', 1], // the SSND chunk runs past the end
    ['vorbis-22k-mono.ogg', 0],
    ['opus-48k-mono.opus', 0],
    ['truncated.opus', 0], // the last whole page's granule position: no header claim to check
    ['cbr-32k.mp3', 0], // LAME's Info header: its bytes are the file's
    ['cover-art.mp3', 0],
    ['vbr-xing.mp3', 0],
    ['truncated-xing.mp3', 1], // the Xing header states more bytes than the file holds
    ['vbr-no-xing.mp3', 1], // no VBR header: nothing states a length
    ['truncated-mid-frame.mp3', 1],
    ['s16-8k-mono.flac', 1],
    ['aac-24k-mono.aac', 1],
    ['ac3-48k-mono.ac3', 1], // no music-metadata parser
    ['aac-24k-mono.m4a', 1], // the video extractor reads its index
  ])('%s: %i', async (name, expected) => {
    const log = path.join(tmp, `${name}.log`);
    const out = await extractFile(audio(name), testExtractConfig({ ffprobePath: countingFfprobe(log) }));
    expect(out.dataType).toBe('audio');
    expect(runs(log)).toBe(expected);
  });
});

describe("a header's length is taken only where the file can hold it", () => {
  async function extractCounted(name: string, bytes: Buffer) {
    const file = path.join(tmp, name);
    writeFileSync(file, bytes);
    const log = path.join(tmp, `${name}.log`);
    const out = await extractFile(file, testExtractConfig({ ffprobePath: countingFfprobe(log) }));
    return { section: out.section as { durationSec: number }, ffprobeRuns: runs(log) };
  }

  it('an AIFF whose COMM chunk claims twice the frames its SSND chunk holds: the samples that are there', async () => {
    const bytes = Buffer.from(readFileSync(audio('pcm-s16be-8k-mono.aiff')));
    const comm = bytes.indexOf('COMM', 12, 'latin1');
    // COMM: id, size, channels (2 bytes), then the frame count; this file holds 4000 (0.5 s at 8 kHz).
    expect(bytes.readUInt32BE(comm + 10)).toBe(4000);
    bytes.writeUInt32BE(8000, comm + 10);
    const { section, ffprobeRuns } = await extractCounted('lying-comm.aiff', bytes);
    expect(section.durationSec).toBeCloseTo(0.5, 9);
    expect(ffprobeRuns).toBe(1);
  });

  it("an Ogg page's granule position claiming a million seconds in a 4.5 KB file: the pages before it", async () => {
    const bytes = Buffer.from(readFileSync(audio('vorbis-22k-mono.ogg')));
    const last = bytes.lastIndexOf('OggS', undefined, 'latin1');
    // Page header: capture pattern, version, type, then the 64-bit granule position; 22050 samples (1 s) here.
    expect(bytes.readBigUInt64LE(last + 6)).toBe(22050n);
    bytes.writeBigUInt64LE(22050n * 1_000_000n, last + 6);
    const { section, ffprobeRuns } = await extractCounted('damaged-granule.ogg', bytes);
    // The page's CRC no longer matches: ffprobe drops it, and the 1 s of tone ends on the page before.
    expect(section.durationSec).toBeGreaterThan(0.9);
    expect(section.durationSec).toBeLessThan(1);
    expect(ffprobeRuns).toBe(1);
  });
});

describe('MP3 durations are the frames the file holds', () => {
  it('bytes after the last frame count at most as one cut frame', async () => {
    const file = path.join(tmp, 'junk-tail.mp3');
    writeFileSync(file, Buffer.concat([readFileSync(audio('vbr-no-xing.mp3')), Buffer.from('not a frame')]));
    const out = await extractFile(file, testExtractConfig());
    // 1 s at 22.05 kHz with LAME's delay and padding: 41 frames of 576 samples.
    expect(out).toMatchObject({ dataType: 'audio', section: { codec: 'mp3', sampleRate: 22050 } });
    const d = out.dataType === 'audio' ? out.section.durationSec : 0;
    expect(Math.abs(d - (41 * 576) / 22050)).toBeLessThanOrEqual(576 / 22050 + 1e-9);
  });

  it('a Xing header that claims ten times the frames of a whole file gives way to them', async () => {
    const bytes = Buffer.from(readFileSync(audio('vbr-xing.mp3')));
    const xing = bytes.indexOf('Xing', 0, 'latin1');
    // Xing: tag, flags (bit 0: a frame count follows), frame count; LAME's says 41.
    expect(bytes.readUInt32BE(xing + 4) & 1).toBe(1);
    bytes.writeUInt32BE(410, xing + 8);
    const file = path.join(tmp, 'lying-xing.mp3');
    writeFileSync(file, bytes);
    const out = await extractFile(file, testExtractConfig());
    expect(out.dataType === 'audio' && out.section.durationSec).toBeCloseTo((41 * 576) / 22050, 6);
  });

  it('the same stream lasts as long with its Xing header as without', async () => {
    const withXing = await extractFile(audio('vbr-xing.mp3'), testExtractConfig());
    const without = await extractFile(audio('vbr-no-xing.mp3'), testExtractConfig());
    expect(withXing.dataType === 'audio' && withXing.section.durationSec).toBeCloseTo((41 * 576) / 22050, 6);
    expect(without.dataType === 'audio' && without.section.durationSec).toBe(withXing.dataType === 'audio' && withXing.section.durationSec);
  });
});

describe('WAV headers', () => {
  it('reads the subformat of WAVE_FORMAT_EXTENSIBLE', async () => {
    expect(await readWavFormat(audio('pcm-f32le-8k-mono.wav'))).toMatchObject({ formatTag: 3, bitsPerSample: 32, channels: 1 });
    expect(await readWavFormat(audio('pcm-s24le-8k-stereo.wav'))).toMatchObject({ formatTag: 1, bitsPerSample: 24, channels: 2 });
  });

  it('a streamed WAV (sizes left at 0xFFFFFFFF) is not mistaken for a truncated one', async () => {
    const file = path.join(tmp, 'streamed.wav');
    copyFileSync(audio('pcm-s16le-8k-mono.wav'), file);
    const bytes = readFileSync(file);
    bytes.writeUInt32LE(0xffffffff, 4); // RIFF size
    bytes.writeUInt32LE(0xffffffff, 40); // data size
    writeFileSync(file, bytes);
    expect(await readWavFormat(file)).not.toHaveProperty('dataBytes');
    const out = await extractFile(file, testExtractConfig());
    expect(out).toMatchObject({ dataType: 'audio', section: { codec: 'pcm_s16le', durationSec: 0.5, sampleRate: 8000 } });
  });
});

describe("bitRate is the audio stream's, never the file's size over its duration", () => {
  /** An ID3v2.3 tag holding one APIC frame of `pictureBytes` bytes (a stand-in picture: zeros after a PNG signature). */
  function id3WithPicture(pictureBytes: number): Buffer {
    const picture = Buffer.concat([Buffer.from('89504e470d0a1a0a', 'hex'), Buffer.alloc(pictureBytes - 8)]);
    const body = Buffer.concat([Buffer.from([0]), Buffer.from('image/png\0', 'latin1'), Buffer.from([3]), Buffer.from('\0'), picture]);
    const frame = Buffer.concat([Buffer.from('APIC', 'latin1'), Buffer.from([0, 0, 0, 0, 0, 0]), body]);
    frame.writeUInt32BE(body.length, 4);
    const size = frame.length;
    const syncsafe = Buffer.from([(size >> 21) & 0x7f, (size >> 14) & 0x7f, (size >> 7) & 0x7f, size & 0x7f]);
    return Buffer.concat([Buffer.from('ID3', 'latin1'), Buffer.from([3, 0, 0]), syncsafe, frame]);
  }

  it('an MP3 at 32 kbit/s behind a 300 KB ID3v2 picture: 32000', async () => {
    // The fixture's own small ID3v2 tag (header, then a syncsafe size) is replaced by the big one.
    const withTag = readFileSync(audio('cbr-32k.mp3'));
    expect(withTag.toString('latin1', 0, 3)).toBe('ID3');
    const tagBytes = 10 + ((withTag[6]! << 21) | (withTag[7]! << 14) | (withTag[8]! << 7) | withTag[9]!);
    const mp3 = withTag.subarray(tagBytes);
    const file = path.join(tmp, 'big-picture.mp3');
    writeFileSync(file, Buffer.concat([id3WithPicture(300_000), mp3]));
    const { section } = await extractFile(file, testExtractConfig());
    expect(section).toMatchObject({ container: 'mp3', bitRate: 32000 });
  });

  it('16-bit stereo PCM at 44.1 kHz in WAV: 1,411,200', async () => {
    const data = Buffer.alloc(44_100 * 4 / 10); // 0.1 s
    const header = Buffer.alloc(44);
    header.write('RIFF', 0, 'latin1');
    header.writeUInt32LE(36 + data.length, 4);
    header.write('WAVEfmt ', 8, 'latin1');
    header.writeUInt32LE(16, 16);
    header.writeUInt16LE(1, 20); // WAVE_FORMAT_PCM
    header.writeUInt16LE(2, 22);
    header.writeUInt32LE(44_100, 24);
    header.writeUInt32LE(44_100 * 4, 28);
    header.writeUInt16LE(4, 32);
    header.writeUInt16LE(16, 34);
    header.write('data', 36, 'latin1');
    header.writeUInt32LE(data.length, 40);
    const file = path.join(tmp, 'cd.wav');
    writeFileSync(file, Buffer.concat([header, data]));
    const { section } = await extractFile(file, testExtractConfig());
    expect(section).toMatchObject({ durationSec: 0.1, bitRate: 1_411_200 });
  });

  it.each(['s16-8k-mono.flac', 'opus-48k-mono.opus'])('%s states no stream rate: none is given', async (name) => {
    const { section } = await extractFile(audio(name), testExtractConfig());
    expect(section).not.toHaveProperty('bitRate');
  });
});
