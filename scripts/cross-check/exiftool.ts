/**
 * exiftool's claims, from one `exiftool -j -n` run over every file (numbers unformatted).
 *
 * With -n exiftool prints raw codes where it would otherwise print words: for MPEG audio SampleRate is
 * the header's rate index and ChannelMode its 2-bit field, so neither is read for MP3 files.
 */
import type { DataType } from '../../src/contract.js';
import { Claims, dataTypeOfMime, num, quarterTurn, type Claim } from './claim.js';
import { run } from './run.js';

export type ExifTags = Record<string, unknown>;

/** Runs exiftool once over all files; tags by SourceFile. */
export async function exiftoolBatch(bin: string, files: string[]): Promise<Map<string, ExifTags>> {
  const byFile = new Map<string, ExifTags>();
  if (files.length === 0) return byFile;
  const out = await run(bin, ['-j', '-n', '-q', '-q', '-charset', 'filename=utf8', ...files]);
  let list: ExifTags[] = [];
  try {
    list = JSON.parse(out.stdout) as ExifTags[];
  } catch {
    throw new Error(`exiftool printed no JSON (exit ${out.code}): ${out.stderr.slice(0, 500)}`);
  }
  for (const tags of list) byFile.set(String(tags.SourceFile), tags);
  return byFile;
}

/** exiftool prints Matroska durations as "hh:mm:ss.fffffffff" even with -n. */
function seconds(value: unknown): number | undefined {
  if (typeof value === 'string') {
    const m = /^(\d+):(\d+):(\d+(?:\.\d+)?)$/.exec(value.trim());
    if (m) return Number(m[1]) * 3600 + Number(m[2]) * 60 + Number(m[3]);
  }
  return num(value);
}

/** The data type exiftool's MIME type names; undefined when it knows the file as something else. */
export function exiftoolDataType(tags: ExifTags | undefined): DataType | undefined {
  return dataTypeOfMime(typeof tags?.MIMEType === 'string' ? tags.MIMEType : undefined);
}

/** exiftool's FileType → the contract's image format names. */
function imageFormat(fileType: unknown): string | undefined {
  if (typeof fileType !== 'string') return undefined;
  const t = fileType.toLowerCase().replace(/^extended /, '');
  // The contract names an animated PNG png (its frames say it is animated).
  return t === 'jpeg 2000' ? 'jp2' : t === 'apng' ? 'png' : t;
}

/** Encodings that every one of these names can hold unchanged: libmagic's "us-ascii" agrees with all. */
const asciiCompatible = new Set(['utf-8', 'windows-1252', 'iso-8859-1', 'iso-8859-15', 'shift_jis', 'euc-jp', 'gb18030', 'big5']);

export function encodingAgrees(toolName: string): (ours: unknown) => boolean {
  const theirs = toolName.toLowerCase();
  return (ours) =>
    typeof ours === 'string' && (ours.toLowerCase() === theirs || (theirs === 'us-ascii' && asciiCompatible.has(ours.toLowerCase())));
}

export function exiftoolClaims(tags: ExifTags | undefined, type: DataType | undefined): Claim[] {
  const c = new Claims('exiftool');
  if (!tags) return c.list;
  // An Error is exiftool not knowing the format ("Unknown file type"), not a verdict on the file; and
  // exiftool reads headers only, so it never claims a file is whole. Its one status claim: an image whose
  // header gives a size is one a reader can open (where we fail it, a rule says why).
  if (typeof tags.Error === 'string') return c.list;
  c.add('dataType', exiftoolDataType(tags));
  const mpegAudio = tags.MIMEType === 'audio/mpeg';
  switch (type) {
    case 'image':
      c.add('image.format', imageFormat(tags.FileType));
      c.add('image.width', num(tags.ImageWidth)).add('image.height', num(tags.ImageHeight));
      c.add('image.orientation', num(tags.Orientation) ?? (tags.FileType === 'SVG' ? undefined : 1));
      c.add('image.frames', num(tags.FrameCount) ?? num(tags.PageCount) ?? num(tags.ImageCount) ?? num(tags.AnimationFrames));
      if (num(tags.ImageWidth) && num(tags.ImageHeight)) c.add('status', 'ok');
      break;
    case 'video':
      c.add('video.durationSec', seconds(tags.Duration));
      c.add('video.width', num(tags.ImageWidth)).add('video.height', num(tags.ImageHeight));
      c.add('video.rotation', num(tags.Rotation) !== undefined ? quarterTurn(num(tags.Rotation) ?? 0) : undefined);
      c.add('video.fps', num(tags.VideoFrameRate));
      c.add('video.frameCount', num(tags.VideoFrameCount));
      c.add('video.audio.sampleRate', num(tags.AudioSampleRate));
      c.add('video.audio.channels', num(tags.AudioChannels));
      break;
    case 'audio':
      c.add('audio.durationSec', seconds(tags.Duration));
      if (!mpegAudio) c.add('audio.sampleRate', num(tags.SampleRate) ?? num(tags.AudioSampleRate));
      if (!mpegAudio) c.add('audio.channels', num(tags.NumChannels) ?? num(tags.Channels) ?? num(tags.AudioChannels));
      c.add('audio.bitsPerSample', num(tags.BitsPerSample) ?? num(tags.SampleSize) ?? num(tags.AudioBitsPerSample));
      break;
    case 'pdf':
      c.add('pdf.pageCount', num(tags.PageCount));
      c.add('pdf.version', tags.PDFVersion === undefined ? undefined : String(tags.PDFVersion));
      c.add('pdf.encrypted', tags.Encryption !== undefined ? true : undefined);
      break;
    case 'dicom':
      c.add('dicom.height', num(tags.Rows)).add('dicom.width', num(tags.Columns));
      c.add('dicom.frames', num(tags.NumberOfFrames) ?? (tags.Rows !== undefined ? 1 : undefined));
      c.add('dicom.transferSyntaxUID', typeof tags.TransferSyntaxUID === 'string' ? tags.TransferSyntaxUID : undefined);
      c.add('dicom.modality', typeof tags.Modality === 'string' ? tags.Modality : undefined);
      c.add('dicom.sopClassUID', typeof tags.SOPClassUID === 'string' ? tags.SOPClassUID : undefined);
      break;
    case 'text': {
      const enc = typeof tags.MIMEEncoding === 'string' ? tags.MIMEEncoding : undefined;
      if (enc && enc !== 'unknown-8bit' && enc !== 'binary') c.add('text.encoding', enc, encodingAgrees(enc));
      c.add('text.bom', tags.FileType === 'TXT' ? tags.ByteOrderMark === 1 : undefined);
      c.add('text.lineCount', num(tags.LineCount));
      break;
    }
    default:
      break;
  }
  return c.list;
}
