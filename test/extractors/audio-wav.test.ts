/**
 * WAV: a whole file from our read of the header (wav.ts), a cut or unnamed one by ffprobe. Checked on WAVs made with ffmpeg in every PCM and compressed format its WAV
 * muxer writes, against how each was made and against ffprobe, and on hand-edited layouts.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { extractAudio } from '../../src/extractors/audio/audio.js';
import { readWavFormat } from '../../src/extractors/audio/wav.js';
import { planWav } from '../../src/extractors/audio/plan-wav.js';
import type { ExtractInput } from '../../src/extractors/extractor.js';
import { defaultFfprobePath } from '../../src/extractors/video/ffprobe.js';
import { fixturesDir, testExtractConfig } from '../helpers/fixtures.js';

const tmp = mkdtempSync(path.join(tmpdir(), 'audio-wav-test-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const inputOf = (file: string): ExtractInput => ({ dataType: 'audio', mimeType: 'audio/wav', ext: 'wav', path: file, sizeBytes: statSync(file).size });

/** [file name, ffmpeg output options, sample rate, channels, seconds]: what each made file holds. */
const made: Array<[string, string[], number, number, number]> = [
  ['s16-44k-stereo.wav', ['-c:a', 'pcm_s16le'], 44100, 2, 1],
  ['s24-48k-6ch.wav', ['-c:a', 'pcm_s24le'], 48000, 6, 0.5],
  ['s32-8k-mono.wav', ['-c:a', 'pcm_s32le'], 8000, 1, 0.25],
  ['f32-22k-stereo.wav', ['-c:a', 'pcm_f32le'], 22050, 2, 0.5],
  ['f64-16k-mono.wav', ['-c:a', 'pcm_f64le'], 16000, 1, 0.5],
  ['u8-11k-mono-odd.wav', ['-c:a', 'pcm_u8'], 11025, 1, 0.2], // 2205 bytes of data: an odd chunk and its pad byte
  ['alaw-8k-mono.wav', ['-c:a', 'pcm_alaw'], 8000, 1, 1],
  ['mulaw-8k-stereo.wav', ['-c:a', 'pcm_mulaw'], 8000, 2, 1],
  ['tagged-s16-8k.wav', ['-c:a', 'pcm_s16le', '-metadata', 'title=Tone', '-metadata', 'artist=Someone odd'], 8000, 1, 0.5],
  ['g726-16k.wav', ['-c:a', 'g726', '-b:a', '16k'], 8000, 1, 1],
  ['g726-40k.wav', ['-c:a', 'g726', '-b:a', '40k'], 8000, 1, 1],
  ['adpcm-ms-22k.wav', ['-c:a', 'adpcm_ms'], 22050, 1, 1],
  ['adpcm-ima-16k-stereo.wav', ['-c:a', 'adpcm_ima_wav'], 16000, 2, 1],
  ['gsm-8k.wav', ['-c:a', 'libgsm_ms'], 8000, 1, 1],
];
const file = (name: string) => path.join(tmp, name);

beforeAll(() => {
  for (const [name, options, rate, channels, seconds] of made) {
    execFileSync('ffmpeg', [
      '-v', 'error', '-y', '-f', 'lavfi', '-i', `sine=f=440:sample_rate=${rate}:duration=${seconds}`,
      '-ac', String(channels), '-fflags', '+bitexact', '-flags:a', '+bitexact', ...options, file(name),
    ]);
  }
});

describe('WAVs made with ffmpeg', () => {
  it.each(made.filter(([name]) => !/adpcm|gsm/.test(name)))('%s: rate, channels and length as made', async (name, _o, rate, channels, seconds) => {
    const out = await extractAudio(inputOf(file(name)), testExtractConfig());
    // Hand-written: what the file was made with (PCM and G.726 both hold every sample of the tone).
    expect(out.section).toMatchObject({ container: 'wav', sampleRate: rate, channels });
    expect((out.section as { durationSec: number }).durationSec).toBeCloseTo(seconds, 9);
  });

  it('G.726: the fact chunk states the samples, as ffprobe reads them (32 kbit/s fixture: 4,000 samples)', async () => {
    const input = inputOf(path.join(fixturesDir, 'audio', 'g726-8k-mono.wav'));
    expect(await readWavFormat(input.path)).toMatchObject({ formatTag: 0x45, factSamples: 4000, dataBytes: 2000 });
    expect((await extractAudio(input, testExtractConfig())).section).toMatchObject({ codec: 'adpcm_g726', durationSec: 0.5 });
  });

  it.each(made.map(([name]) => name))('%s: codec, rate, channels and duration as ffprobe gives them', async (name) => {
    const out = await extractAudio(inputOf(file(name)), testExtractConfig());
    const probe = JSON.parse(
      execFileSync(defaultFfprobePath(), ['-v', 'error', '-print_format', 'json', '-show_streams', file(name)], { encoding: 'utf8' }),
    ) as { streams: Array<{ codec_name: string; sample_rate: string; channels: number; duration: string }> };
    const s = probe.streams[0]!;
    expect(out.section).toMatchObject({ codec: s.codec_name, sampleRate: Number(s.sample_rate), channels: s.channels });
    expect((out.section as { durationSec: number }).durationSec).toBeCloseTo(Number(s.duration), 5);
  });
});

describe('edited layouts', () => {
  function edited(name: string, from: string, edit: (b: Buffer) => Buffer): string {
    const out = file(name);
    writeFileSync(out, edit(readFileSync(file(from))));
    return out;
  }
  const chunkAt = (b: Buffer, id: string) => b.indexOf(Buffer.from(id, 'latin1'), 12);

  it('a trailing chunk after the data changes nothing', async () => {
    const out = edited('trailing.wav', 's16-44k-stereo.wav', (b) => {
      const grown = Buffer.concat([b, Buffer.from('junk\x04\x00\x00\x00abcd', 'latin1')]);
      grown.writeUInt32LE(grown.length - 8, 4);
      return grown;
    });
    const got = await extractAudio(inputOf(out), testExtractConfig());
    expect(got.section).toMatchObject({ codec: 'pcm_s16le', sampleRate: 44100, channels: 2, durationSec: 1 });
  });

  it('an ADPCM WAV without a fact chunk is measured by ffprobe, not by data bytes over block align', async () => {
    const out = edited('adpcm-no-fact.wav', 'adpcm-ms-22k.wav', (b) => {
      b.write('JUNK', chunkAt(b, 'fact'), 'latin1');
      return b;
    });
    const got = await extractAudio(inputOf(out), testExtractConfig());
    // 1 s of tone: the block count (data bytes over block align) would be some 22 "samples", 1 ms.
    expect((got.section as { durationSec: number }).durationSec).toBeGreaterThan(0.9);
  });

  it('a ranged read fetches the header alone only where the extractor reads nothing else', async () => {
    const reader = (name: string) => {
      const bytes = readFileSync(file(name));
      return { size: bytes.length, read: async (at: number, n: number) => bytes.subarray(at, at + n), ensureAll: async () => {} };
    };
    edited('adpcm-no-fact-plan.wav', 'adpcm-ms-22k.wav', (b) => {
      b.write('JUNK', chunkAt(b, 'fact'), 'latin1');
      return b;
    });
    expect(await planWav(reader('s16-44k-stereo.wav'))).toBe(true); // PCM: timed from the data size
    expect(await planWav(reader('adpcm-ms-22k.wav'))).toBe(true); // its fact chunk states the samples
    expect(await planWav(reader('adpcm-no-fact-plan.wav'))).toBe(false); // ffprobe times its packets: read whole
  });

  it('a data chunk that claims more than the file holds: the samples that are there', async () => {
    const out = edited('cut.wav', 's16-44k-stereo.wav', (b) => b.subarray(0, b.length - 1000));
    const got = await extractAudio(inputOf(out), testExtractConfig());
    // 1 s of 16-bit stereo at 44.1 kHz is 176,400 bytes; 1,000 fewer are 250 fewer 4-byte samples.
    expect(got.section).toMatchObject({ codec: 'pcm_s16le', sampleRate: 44100, channels: 2 });
    expect((got.section as { durationSec: number }).durationSec).toBeCloseTo((44100 - 250) / 44100, 9);
  });
});
