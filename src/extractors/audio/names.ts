/**
 * music-metadata's container and codec names → FFmpeg's vocabulary (docs/contract.md §3): short demuxer
 * names for containers, ffprobe's codec_name for codecs. music-metadata names codecs for people
 * ("MPEG 2 Layer 3", "Vorbis I", "PCM"); backends compare FFmpeg's names, whichever library read the file.
 */
import type { IFormat } from 'music-metadata';

const oggCodecs: Record<string, string> = { 'Vorbis I': 'vorbis', Opus: 'opus' };

/** FFmpeg's names for the formats taken from music-metadata (see audio.ts); undefined for the others. */
export function ffmpegNames(f: IFormat): { container: string; codec: string } | undefined {
  const codec = f.codec ?? '';
  // FFmpeg's demuxer for MPEG audio of every layer is "mp3".
  const layer = /^MPEG (?:1|2|2\.5) Layer ([123])$/.exec(codec)?.[1];
  if (f.container === 'MPEG' && layer) return { container: 'mp3', codec: `mp${layer}` };
  if (f.container === 'Ogg' && (oggCodecs[codec] || codec.startsWith('Speex'))) return { container: 'ogg', codec: oggCodecs[codec] ?? 'speex' };
  // Plain AIFF is big-endian PCM; AIFF-C names its compression in free text, which ffprobe reads instead.
  const bits = f.bitsPerSample ?? 0;
  if (f.container === 'AIFF' && codec === 'PCM' && [8, 16, 24, 32].includes(bits)) {
    return { container: 'aiff', codec: bits === 8 ? 'pcm_s8' : `pcm_s${bits}be` };
  }
  return undefined;
}
