/**
 * music-metadata's names ("MPEG", "MPEG 2 Layer 3", "Vorbis I", "PCM") → FFmpeg's (docs/contract.md §3):
 * backends compare FFmpeg's demuxer and codec names, whichever library read the file.
 */
import type { IFormat } from 'music-metadata';

const oggCodecs: Record<string, string> = { 'Vorbis I': 'vorbis', Opus: 'opus' };

/** FFmpeg's names for the formats taken from music-metadata (see audio.ts); undefined for the others. */
export function ffmpegNames(f: IFormat): { container: string; codec: string } | undefined {
  const codec = f.codec ?? '';
  // FFmpeg's demuxer for MPEG audio of every layer is "mp3".
  const layer = /^MPEG (?:1|2|2\.5) Layer ([123])$/.exec(codec)?.[1];
  if (f.container === 'MPEG' && layer) return { container: 'mp3', codec: `mp${layer}` };
  const ogg = oggCodecs[codec];
  if (f.container === 'Ogg' && ogg) return { container: 'ogg', codec: ogg };
  // Plain AIFF is big-endian PCM; AIFF-C names its compression in free text, which ffprobe reads instead.
  const bits = f.bitsPerSample ?? 0;
  if (f.container === 'AIFF' && codec === 'PCM' && [8, 16, 24, 32].includes(bits)) {
    return { container: 'aiff', codec: bits === 8 ? 'pcm_s8' : `pcm_s${bits}be` };
  }
  return undefined;
}
