/**
 * music-metadata's container and codec names → FFmpeg's vocabulary (docs/contract.md §3): short demuxer
 * names for containers, ffprobe's codec_name for codecs. music-metadata names codecs for people
 * ("MPEG 1 Layer 3", "Vorbis I", "PCM"); backends compare FFmpeg's names, whichever library read the file.
 */

/** Container: music-metadata's `format.container` is "WAVE", "MPEG", "FLAC", "Ogg", "AIFF-C", "ADTS/MPEG-4", ... */
export function containerFromMusicMetadata(container: string | undefined): string | undefined {
  const c = (container ?? '').toUpperCase();
  if (c === 'WAVE') return 'wav';
  if (c === 'MPEG') return 'mp3'; // FFmpeg's demuxer for MPEG audio of every layer is "mp3"
  if (c === 'FLAC') return 'flac';
  if (c === 'OGG') return 'ogg';
  if (c === 'AIFF' || c === 'AIFF-C') return 'aiff';
  if (c.startsWith('ADTS')) return 'aac';
  return undefined;
}

/**
 * Codec: music-metadata's `format.codec`. PCM depends on the container's byte order and the sample
 * size; AIFF-C names its compression in free text (music-metadata passes the file's own name through),
 * hence the patterns. WAV is named from its header instead (wav.ts).
 */
export function codecFromMusicMetadata(codec: string | undefined, container: string, bits: number | undefined): string | undefined {
  const c = codec ?? '';
  const layer = /^MPEG (?:1|2|2\.5) Layer (\d)$/.exec(c);
  if (layer) return `mp${layer[1]}`;
  if (c === 'AAC' || c.startsWith('MPEG-4/AAC')) return 'aac';
  if (c === 'FLAC') return 'flac';
  if (c.startsWith('Vorbis')) return 'vorbis';
  if (c === 'Opus') return 'opus';
  if (c === 'Speex') return 'speex';
  if (c === 'ALAC') return 'alac';
  if (container === 'aiff') return aiffCodec(c, bits);
  return undefined;
}

function aiffCodec(c: string, bits: number | undefined): string | undefined {
  if (/a-?law/i.test(c)) return 'pcm_alaw';
  if (/[µu]-?law/i.test(c)) return 'pcm_mulaw';
  if (/32-bit float|float 32/i.test(c)) return 'pcm_f32be';
  if (/64-bit float/i.test(c)) return 'pcm_f64be';
  if (!/PCM|not compressed/i.test(c) || !bits) return undefined;
  if (bits === 8) return 'pcm_s8';
  const endian = /byte swapped|sowt/i.test(c) ? 'le' : 'be';
  return [16, 24, 32].includes(bits) ? `pcm_s${bits}${endian}` : undefined;
}
