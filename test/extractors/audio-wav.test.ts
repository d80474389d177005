/**
 * The plain-WAV shortcut (audio.ts `plainWavSection`) must give exactly what the full path gives
 * (music-metadata over the whole file, with our header read, else ffprobe), or step aside. Checked on
 * WAVs made with ffmpeg in every PCM and compressed format its WAV muxer writes, with and without tags,
 * on hand-edited layouts the shortcut must refuse, and on mutated headers; and against ffprobe itself,
 * since the full path's duration for a compressed WAV is taken from the header only where ffprobe's is
 * the same.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { extractAudio, extractAudioFully, plainWavSection } from '../../src/extractors/audio.js';
import { readWavFormat } from '../../src/extractors/audio-wav.js';
import type { ExtractInput } from '../../src/extractors/extractor.js';
import { defaultFfprobePath } from '../../src/extractors/ffprobe.js';
import { fixturesDir, testExtractConfig } from '../helpers/fixtures.js';

const tmp = mkdtempSync(path.join(tmpdir(), 'audio-wav-test-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const inputOf = (file: string): ExtractInput => ({ dataType: 'audio', mimeType: 'audio/wav', ext: 'wav', path: file, sizeBytes: statSync(file).size });

/** The result or the error message, so that failures compare too. */
async function outcome(run: () => Promise<unknown>): Promise<unknown> {
  try {
    return await run();
  } catch (err) {
    return `error: ${String(err)}`;
  }
}

async function expectSameAsFullPath(file: string): Promise<void> {
  const input = inputOf(file);
  const fast = await outcome(() => extractAudio(input, testExtractConfig()));
  expect(fast).toEqual(await outcome(() => extractAudioFully(input, testExtractConfig())));
}

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

describe('plain WAVs: the header alone', () => {
  it.each(made.filter(([name]) => !/adpcm|gsm/.test(name)))('%s: read from the header, as the full path reads it', async (name, _o, rate, channels, seconds) => {
    const input = inputOf(file(name));
    const wav = await readWavFormat(input.path);
    const section = wav && plainWavSection(input, wav);
    // Hand-written: what the file was made with (PCM and G.726 both hold every sample of the tone).
    expect(section).toMatchObject({ container: 'wav', sampleRate: rate, channels });
    expect(section?.durationSec).toBeCloseTo(seconds, 9);
    await expectSameAsFullPath(input.path);
  });

  it('G.726: the fact chunk states the samples, as ffprobe reads them (32 kbit/s fixture: 4,000 samples)', async () => {
    const input = inputOf(path.join(fixturesDir, 'audio', 'g726-8k-mono.wav'));
    const wav = await readWavFormat(input.path);
    expect(wav).toMatchObject({ formatTag: 0x45, factSamples: 4000, dataBytes: 2000, plain: true });
    expect(wav && plainWavSection(input, wav)).toMatchObject({ codec: 'adpcm_g726', durationSec: 0.5 });
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

describe('layouts the shortcut leaves to the full path', () => {
  function edited(name: string, from: string, edit: (b: Buffer) => Buffer): string {
    const out = file(name);
    writeFileSync(out, edit(readFileSync(file(from))));
    return out;
  }
  const chunkAt = (b: Buffer, id: string) => b.indexOf(Buffer.from(id, 'latin1'), 12);

  const cases: Array<[string, () => string]> = [
    ['a trailing chunk after the data', () => edited('trailing.wav', 's16-44k-stereo.wav', (b) => {
      const out = Buffer.concat([b, Buffer.from('junk\x04\x00\x00\x00abcd', 'latin1')]);
      out.writeUInt32LE(out.length - 8, 4);
      return out;
    })],
    ['a RIFF size that is not the file\'s', () => edited('riff-size.wav', 's16-44k-stereo.wav', (b) => {
      b.writeUInt32LE(b.readUInt32LE(4) - 100, 4);
      return b;
    })],
    ['an INFO list whose entries do not add up', () => edited('bad-info.wav', 'tagged-s16-8k.wav', (b) => {
      const list = chunkAt(b, 'LIST');
      b.writeUInt32LE(b.readUInt32LE(list + 16) + 2, list + 16); // first entry 2 bytes longer than it is
      return b;
    })],
    ['an ADPCM WAV without its fact chunk', () => edited('adpcm-no-fact.wav', 'adpcm-ms-22k.wav', (b) => {
      b.write('JUNK', chunkAt(b, 'fact'), 'latin1');
      return b;
    })],
    ['a data chunk that claims more than the file holds', () => edited('cut.wav', 's16-44k-stereo.wav', (b) => b.subarray(0, b.length - 1000))],
  ];

  it.each(cases)('%s', async (_label, make) => {
    const input = inputOf(make());
    const wav = await readWavFormat(input.path);
    expect(wav && plainWavSection(input, wav)).toBeUndefined();
    await expectSameAsFullPath(input.path);
  });

  it('an ADPCM WAV without a fact chunk is measured by ffprobe, not by data bytes over block align', async () => {
    const input = inputOf(file('adpcm-no-fact.wav'));
    const out = await extractAudio(input, testExtractConfig());
    // 1 s of tone: the block count (data bytes over block align) would be some 22 "samples", 1 ms.
    expect((out.section as { durationSec: number }).durationSec).toBeGreaterThan(0.9);
  });
});

describe('mutated headers: the shortcut answers as the full path does, or not at all', () => {
  it('byte flips in the first 120 bytes of every made file', async () => {
    let seed = 7;
    const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    let answered = 0;
    for (const [name] of made) {
      const bytes = readFileSync(file(name));
      for (let i = 0; i < 12; i++) {
        const b = Buffer.from(bytes);
        const at = Math.floor(random() * Math.min(120, b.length));
        b[at] = Math.floor(random() * 256);
        const out = file(`mutated-${i}-${name}`);
        writeFileSync(out, b);
        const input = inputOf(out);
        const wav = await outcome(() => readWavFormat(out));
        if (typeof wav === 'object' && wav && plainWavSection(input, wav as never)) answered++;
        await expectSameAsFullPath(out);
        rmSync(out);
      }
    }
    // Most flips land in places the shortcut does not depend on (or change a value both paths read alike).
    expect(answered).toBeGreaterThan(50);
  }, 60_000);
});
