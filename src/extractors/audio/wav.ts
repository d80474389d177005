/**
 * The `fmt ` and `data` chunks of a RIFF/WAVE file, read by seeking from chunk header to chunk header
 * (never the sample data).
 *
 * Why: a whole WAV's length and format are in these two chunks, so it needs no ffprobe process and a
 * ranged read needs only its header; and the data chunk's declared size tells a file cut short. (The
 * library alternative, music-metadata 11, names WAVE_FORMAT_EXTENSIBLE files "non-PCM (65534)": the real
 * format is the first two bytes of the SubFormat GUID.)
 * Layout: Microsoft's WAVEFORMATEX / WAVEFORMATEXTENSIBLE (mmreg.h); RIFF chunks are padded to even size.
 */
import { readAtSync, withFileSync } from '../read-sync.js';

export interface WavFormat {
  /** wFormatTag, or the SubFormat's tag for WAVE_FORMAT_EXTENSIBLE (1 PCM, 3 IEEE float, 6 A-law, 7 µ-law, ...). */
  formatTag: number;
  channels: number;
  sampleRate: number;
  /** Container bits per sample (wBitsPerSample). */
  bitsPerSample: number;
  /** wValidBitsPerSample of an extensible header, when set. */
  validBitsPerSample?: number;
  /** nBlockAlign and nAvgBytesPerSec of the `fmt ` chunk. */
  blockAlign: number;
  avgBytesPerSec: number;
  /** dwSampleLength of a `fact` chunk (non-PCM formats carry one). */
  factSamples?: number;
  /** Where the sample data starts and how many bytes the header says it holds (undefined: unknown, as in a streamed WAV). */
  dataOffset?: number;
  dataBytes?: number;
}

const WAVE_FORMAT_EXTENSIBLE = 0xfffe;
/** Chunks walked before giving up: real files have a handful. */
const maxChunks = 1_000;

/** Reads a WAV's format; undefined when it is not RIFF/WAVE or has no `fmt ` chunk. */
export async function readWavFormat(path: string): Promise<WavFormat | undefined> {
  return withFileSync(path, (fd) => {
    const read = (at: number, length: number) => readAtSync(fd, at, length);
    const riff = read(0, 12);
    if (riff.length < 12 || riff.toString('latin1', 0, 4) !== 'RIFF' || riff.toString('latin1', 8, 12) !== 'WAVE') {
      return undefined;
    }
    let fmt: WavFormat | undefined;
    let factSamples: number | undefined;
    let at = 12;
    for (let n = 0; n < maxChunks; n++) {
      const header = read(at, 8);
      if (header.length < 8) break;
      const id = header.toString('latin1', 0, 4);
      const size = header.readUInt32LE(4);
      if (id === 'fmt ') {
        fmt = parseFmt(read(at + 8, Math.min(size, 64)));
      } else if (id === 'fact') {
        const fact = read(at + 8, 4);
        if (fact.length === 4) factSamples = fact.readUInt32LE(0);
      } else if (id === 'data') {
        if (!fmt) return undefined;
        // Writers that stream (cannot seek back) leave 0 or 0xFFFFFFFF here.
        const known = size !== 0 && size !== 0xffffffff;
        return { ...fmt, ...(factSamples !== undefined ? { factSamples } : {}), dataOffset: at + 8, ...(known ? { dataBytes: size } : {}) };
      }
      at += 8 + size + (size & 1);
    }
    return fmt && { ...fmt, ...(factSamples !== undefined ? { factSamples } : {}) };
  });
}

/** The `fmt ` chunk's body → its format; undefined when too short. */
export function parseFmt(b: Buffer): WavFormat | undefined {
  if (b.length < 16) return undefined;
  const tag = b.readUInt16LE(0);
  const out: WavFormat = {
    formatTag: tag,
    channels: b.readUInt16LE(2),
    sampleRate: b.readUInt32LE(4),
    avgBytesPerSec: b.readUInt32LE(8),
    blockAlign: b.readUInt16LE(12),
    bitsPerSample: b.readUInt16LE(14),
  };
  if (tag === WAVE_FORMAT_EXTENSIBLE && b.length >= 40) {
    const valid = b.readUInt16LE(18);
    out.formatTag = b.readUInt16LE(24);
    if (valid > 0) out.validBitsPerSample = valid;
  }
  return out;
}

/** Whether a WAV header states the length ffprobe gives: PCM, or a codec we name with a fact chunk (audio.ts, plan-wav.ts). */
export const headerStatesLength = (codec: string | undefined, fact: boolean): codec is string => !!codec && (codec.startsWith('pcm_') || fact);

/** FFmpeg's codec name for a WAV format tag (libavformat/riff.c), undefined when we do not know it. */
export function wavCodecName(f: WavFormat): string | undefined {
  const bits = f.bitsPerSample;
  switch (f.formatTag) {
    case 0x0001:
      if (bits === 8) return 'pcm_u8';
      return [16, 24, 32, 64].includes(bits) ? `pcm_s${bits}le` : undefined;
    case 0x0003:
      return bits === 32 || bits === 64 ? `pcm_f${bits}le` : undefined;
    case 0x0006:
      return 'pcm_alaw';
    case 0x0007:
      return 'pcm_mulaw';
    case 0x0002:
      return 'adpcm_ms';
    case 0x0011:
      return 'adpcm_ima_wav';
    case 0x0031:
      return 'gsm_ms';
    case 0x0045:
      return 'adpcm_g726';
    case 0x0050:
      return 'mp2';
    case 0x0055:
      return 'mp3';
    default:
      return undefined;
  }
}
