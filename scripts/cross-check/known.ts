/**
 * Disagreements that are understood: each rule names a section of docs/cross-check.md, which says who is
 * right and why. A rule matches by what is true of the file and of the tool's answer (the tool's own
 * numbers reproduce its value, or another tool with our definition agrees), never by file name, so a new
 * file that disagrees for a new reason is printed as UNEXPLAINED.
 */
import { readFile } from 'node:fs/promises';
import type { AssetResult } from '../../src/contract.js';
import { agrees, num } from './claim.js';
import { lfOnlyShortfall } from './documents.js';
import { head, isPart10, packets, type Disagreement } from './facts.js';
import { run } from './run.js';

type Rule = (d: Disagreement) => boolean | Promise<boolean>;

const container = (r: AssetResult): string | undefined => r.audio?.container ?? r.video?.container;
const codec = (r: AssetResult): string | undefined => r.audio?.codec ?? r.video?.videoCodec;
const close = (a: number, b: number, within: number): boolean => Math.abs(a - b) <= within;

/** Another tool's claim on the same field that agrees with our value (a tool using our definition). */
function agreedBy(d: Disagreement, tool: string): boolean {
  const other = d.claims.find((c) => c.tool === tool && c.field === d.field);
  return other !== undefined && agrees(other, d.ours);
}

/** Rules by the docs/cross-check.md section that explains them. */
const rules: Record<string, Rule> = {
  // exiftool reads the MP4 sample entry's channelcount, which ISO/IEC 14496-12 writers fix at 2.
  'mp4-sample-entry-channels': (d) =>
    d.tool === 'exiftool' && d.field.endsWith('channels') && d.theirs === 2 &&
    ['mp4', 'mov', '3gp', '3g2'].includes(container(d.result) ?? '') && agreedBy(d, 'ffprobe') && agreedBy(d, 'mediainfo'),

  // exiftool's MP3 duration without a Xing header: (file - ID3v2) / the first frame's bit rate.
  'exiftool-mp3-estimate': (d) => {
    const rate = num(d.exif?.AudioBitrate);
    const size = num(d.exif?.FileSize);
    if (d.tool !== 'exiftool' || d.field !== 'audio.durationSec' || container(d.result) !== 'mp3' || !rate || !size) return false;
    return close(Number(d.theirs), ((size - (num(d.exif?.ID3Size) ?? 0)) * 8) / rate, 0.002) && agreedBy(d, 'ffprobe');
  },

  // exiftool's WAV duration: the whole file (headers included) over the byte rate.
  'exiftool-wav-file-size': (d) => {
    if (d.tool !== 'exiftool' || d.field !== 'audio.durationSec' || container(d.result) !== 'wav') return false;
    const theirs = Number(d.theirs);
    const size = d.result.sizeBytes ?? 0;
    return theirs > Number(d.ours) && (theirs - Number(d.ours)) * (size / theirs) < 512 && agreedBy(d, 'mediainfo');
  },

  // exiftool's Ogg duration: file size over the nominal bit rate of the Vorbis identification header.
  'exiftool-ogg-nominal-rate': (d) => {
    const rate = num(d.exif?.NominalBitrate);
    const size = num(d.exif?.FileSize);
    if (d.tool !== 'exiftool' || !d.field.endsWith('durationSec') || container(d.result) !== 'ogg' || !rate || !size) return false;
    return close(Number(d.theirs), (size * 8) / rate, 0.002);
  },

  // FFmpeg's ASF demuxer: the container's duration is the latest stream start plus the file's duration
  // (too long), and its bit rate is divided by that.
  'ffmpeg-asf-duration': (d) => {
    if (d.tool !== 'ffprobe' || container(d.result) !== 'asf' || !agreedBy(d, 'mediainfo')) return false;
    if (d.field.endsWith('durationSec')) return Number(d.theirs) > Number(d.ours);
    return d.field.endsWith('bitRate') && Number(d.theirs) < Number(d.ours);
  },

  // exiftool's ASF Duration is the header's Play Duration, which includes the preroll.
  'exiftool-asf-preroll': (d) => {
    const preroll = num(d.exif?.Preroll);
    if (d.tool !== 'exiftool' || !d.field.endsWith('durationSec') || container(d.result) !== 'asf' || preroll === undefined) return false;
    return close(Number(d.theirs) - preroll / 1000, Number(d.ours), 0.01);
  },

  // mediainfo's bit rates are its own measures (AAC in MP4, a cut AIFF, MPEG-TS timing); ffprobe states ours.
  'bitrate-definition': (d) => d.tool === 'mediainfo' && d.field.endsWith('bitRate') && agreedBy(d, 'ffprobe'),

  // A cut MP3 frame: FFmpeg decodes it (and we count it); mediainfo counts complete frames only.
  'mp3-partial-last-frame': (d) => {
    const rate = d.result.audio?.sampleRate;
    if (d.tool !== 'mediainfo' || d.field !== 'audio.durationSec' || codec(d.result) !== 'mp3' || !rate) return false;
    const frame = (rate < 32_000 ? 576 : 1152) / rate;
    return Number(d.ours) > Number(d.theirs) && Number(d.ours) - Number(d.theirs) <= frame + 0.001 && agreedBy(d, 'ffprobe');
  },

  // MPEG-TS: last PTS minus first PTS, without the last frame's own duration.
  'ts-last-frame-duration': (d) => {
    const fps = d.result.video?.fps;
    if (!['exiftool', 'mediainfo'].includes(d.tool) || d.field !== 'video.durationSec' || container(d.result) !== 'mpegts' || !fps) return false;
    return close(Number(d.ours) - Number(d.theirs), 1 / fps, 0.002) && agreedBy(d, 'ffprobe');
  },

  // mediainfo's frame count where the container has no index is duration × rate; FFmpeg decoded ours.
  // (MP4 and MOV have a sample table: mediainfo's count is that, not an estimate.)
  'mediainfo-frame-estimate': (d) =>
    d.tool === 'mediainfo' && d.field === 'video.frameCount' && !['mp4', 'mov'].includes(container(d.result) ?? '') && agreedBy(d, 'ffprobe'),

  // Opus decodes at 48 kHz whatever the input rate its header records (RFC 7845 §5.1); those tools print the latter.
  'opus-input-sample-rate': (d) =>
    ['exiftool', 'mediainfo'].includes(d.tool) && d.field === 'audio.sampleRate' && codec(d.result) === 'opus' &&
    d.ours === 48_000 && agreedBy(d, 'ffprobe'),

  // exiftool files an AVIF image sequence (major brand avis) as an MP4 video.
  'avif-image-sequence': (d) =>
    d.tool === 'exiftool' && ['dataType', 'image.format'].includes(d.field) && d.result.image?.format === 'avif' &&
    d.exif?.MajorBrand === 'avis',

  // An AVI's header and index count the empty chunks muxers write to keep step with the audio.
  'avi-header-frame-count': (d) =>
    d.tool === 'exiftool' && d.field === 'video.frameCount' && container(d.result) === 'avi' &&
    Number(d.theirs) > Number(d.ours) && agreedBy(d, 'ffprobe'),

  // exiftool's AVI audio rate is the stream header's rate/scale: blocks (frames) a second for compressed audio.
  'avi-audio-rate-in-blocks': (d) =>
    d.tool === 'exiftool' && d.field === 'video.audio.sampleRate' && container(d.result) === 'avi' &&
    [576, 1024, 1152].some((n) => close(Number(d.theirs) * n, Number(d.ours), 0.5)) && agreedBy(d, 'ffprobe'),

  // mediainfo's frame rate is the nominal one (the commonest frame duration, or the stream header's); ours
  // is the average: ffprobe's avg_frame_rate, or frames over duration where it has none.
  'fps-nominal-vs-average': (d) => {
    const v = d.result.video;
    if (d.tool !== 'mediainfo' || d.field !== 'video.fps' || !v) return false;
    if (d.claims.some((c) => c.tool === 'ffprobe' && c.field === 'video.fps')) return agreedBy(d, 'ffprobe');
    return close(Number(d.ours), v.frameCount / v.durationSec, 0.001);
  },

  // An MP4 edit list that ends before the last sample: FFmpeg drops the frame, the container holds it.
  'mp4-edit-list-trims-frames': async (d) => {
    if (d.tool !== 'ffprobe' || d.field !== 'video.frameCount' || !['mp4', 'mov'].includes(container(d.result) ?? '')) return false;
    const out = await run(d.tools.ffprobe ?? 'ffprobe', [
      '-v', 'error', '-ignore_editlist', '1', '-select_streams', 'v:0', '-count_frames',
      '-show_entries', 'stream=nb_read_frames', '-of', 'csv=p=0', `file:${d.file}`,
    ]);
    return Number(out.stdout.trim()) === Number(d.ours) && Number(d.theirs) < Number(d.ours);
  },

  // A Part 10 file whose meta header lacks the required TransferSyntaxUID: dcmdump guesses one.
  'dicom-meta-without-transfer-syntax': async (d) =>
    d.tool === 'dcmdump' && d.field === 'status' && d.result.error?.code === 'CORRUPT_ASSET' &&
    !d.claims.some((c) => c.tool === 'dcmdump' && c.field === 'dicom.transferSyntaxUID') && isPart10(await head(d.file, 132)),

  // A data set with elements of no valid group (0001): dcmdump reads on with warnings, we refuse.
  'dicom-invalid-elements': async (d) => {
    if (d.tool !== 'dcmdump' || d.field !== 'status' || d.result.error?.code !== 'CORRUPT_ASSET') return false;
    const out = await run(d.tools.dcmdump ?? 'dcmdump', ['-M', d.file]);
    return /^W: .*Invalid Element/m.test(out.stderr);
  },

  // A data set in explicit VR big endian with no meta header: our sniffing knows little endian only.
  'dicom-big-endian-without-meta': async (d) => {
    if (d.tool !== 'dcmdump' || d.field !== 'status' || d.result.error?.code !== 'UNSUPPORTED_TYPE') return false;
    const b = await head(d.file, 6);
    return b.length === 6 && b.readUInt16BE(0) === 0x0008 && /^[A-Z]{2}$/.test(b.toString('latin1', 4, 6));
  },

  // Known bug: a Theora stream that ends with dropped frames (empty packets: the picture is held), which
  // FFmpeg's demuxer does not list. Its last granule position counts them; our packet-based duration does not.
  'known-bug-theora-held-frames-at-end': async (d) => {
    const fps = num(d.exif?.FrameRate);
    if (d.tool !== 'ffprobe' || d.field !== 'video.durationSec' || codec(d.result) !== 'theora' || !fps) return false;
    const p = await packets(d);
    return Number(d.theirs) > Number(d.ours) && p.video < Math.round(Number(d.theirs) * fps) - 1;
  },

  // A header that claims more than the file's frames hold (a cut file): the tool reports the header, we the
  // frames. The tool's duration must pass where the last packet ends, ours be there (within one packet: a
  // cut frame is listed), our frame count the video packets there are, our bit rate the same bytes over our
  // shorter duration.
  'header-claims-more-than-frames': async (d) => {
    const section = d.field.split('.')[0] as 'audio' | 'video';
    const ourDuration = d.result[section]?.durationSec;
    if (!['audio', 'video'].includes(section) || !ourDuration) return false;
    const theirs = Number(d.theirs);
    const ours = Number(d.ours);
    if (d.field.endsWith('durationSec')) {
      if (theirs <= ours + 0.01) return false;
      const p = await packets(d);
      return theirs > p.end + 0.01 && ours <= p.end + 0.01 && ours >= p.end - p.longest - 0.01;
    }
    if (d.field === 'video.frameCount') return theirs > ours && (await packets(d)).video === ours;
    if (d.field === 'video.bitRate') {
      const theirDuration = d.claims.find((c) => c.tool === d.tool && c.field === 'video.durationSec')?.value;
      return theirs < ours && typeof theirDuration === 'number' && theirDuration > ourDuration + 0.01 &&
        close(theirs * theirDuration, ours * ourDuration, 0.01 * ours * ourDuration);
    }
    return false;
  },

  // Raw MP3 and ADTS: our bit rate is the frames' bytes over our duration; the tools take a VBR header's
  // or the first frame's rate.
  'frames-bit-rate': async (d) => {
    const duration = d.result.audio?.durationSec;
    if (d.field !== 'audio.bitRate' || !['mp3', 'aac'].includes(container(d.result) ?? '') || !duration) return false;
    const measured = ((await packets(d)).audioBytes * 8) / duration;
    return close(Number(d.ours), measured, measured / 100) && !close(Number(d.theirs), measured, measured / 100);
  },

  // A cut file's last video packet, ended by the end of the file: we count it (a packet is there), FFmpeg
  // cannot decode it.
  'cut-last-video-frame': async (d) => {
    if (d.tool !== 'ffprobe' || d.field !== 'video.frameCount' || Number(d.ours) !== Number(d.theirs) + 1) return false;
    const p = await packets(d);
    return p.video === Number(d.ours) && p.lastVideoByte === d.result.sizeBytes;
  },

  // A JPEG without its end marker is cut (docs/contract.md): exiftool reads its header and says no more.
  'jpeg-without-end-marker': async (d) => {
    if (d.tool !== 'exiftool' || d.field !== 'status' || d.result.error?.code !== 'CORRUPT_ASSET' || d.exif?.FileType !== 'JPEG') return false;
    const buf = await readFile(d.file);
    return buf.readUInt16BE(0) === 0xffd8 && buf.lastIndexOf(Buffer.from([0xff, 0xd9])) === -1;
  },

  // Camera raws are refused by design (docs/contract.md §3): their first image is often a small preview.
  'camera-raw-refused': (d) =>
    d.tool === 'exiftool' && d.field === 'status' && d.result.error?.code === 'UNSUPPORTED_TYPE' &&
    /^image\/x-(adobe-dng|canon-cr[23]|nikon-nef|sony-arw|panasonic-rw2|olympus-orf|fujifilm-raf)$/.test(String(d.exif?.MIMEType)),

  // Known bug: a valid TIFF of 64-bit samples (doubles), which libvips does not read, is called corrupt.
  'known-bug-tiff-64-bit-samples': (d) =>
    d.tool === 'exiftool' && d.field === 'status' && d.result.error?.code === 'CORRUPT_ASSET' && d.exif?.FileType === 'TIFF' &&
    String(d.exif?.BitsPerSample).split(' ').includes('64'),

  // A page tree with a cycle: pdf.js refuses, poppler and qpdf report the root's /Count.
  'pdf-page-tree-cycle': (d) =>
    d.field === 'status' && ['pdfinfo', 'qpdf'].includes(d.tool) && d.result.error?.code === 'CORRUPT_ASSET' &&
    /circular reference/.test(d.result.error.message),

  // exiftool prints the catalog's /Version even when it is older than the header's.
  'pdf-catalog-version': (d) =>
    d.tool === 'exiftool' && d.field === 'pdf.version' && Number(d.theirs) < Number(d.ours) && agreedBy(d, 'pdfinfo'),

  // A HEIF's first coded item (a tile) is not its primary item (the grid that is the picture).
  'heif-first-item-is-a-tile': async (d) => {
    if (d.tool !== 'mediainfo' || !['image.width', 'image.height'].includes(d.field)) return false;
    if (!['heic', 'avif'].includes(d.result.image?.format ?? '')) return false;
    const out = await run(d.tools.mediainfo ?? 'mediainfo', ['--Output=JSON', d.file]);
    const tracks = (JSON.parse(out.stdout) as { media: { track: Record<string, string>[] } }).media.track;
    const grid = tracks.find((t) => t['@type'] === 'Image' && t.Format === 'Grid');
    return grid !== undefined && Number(grid.Width) === d.result.image?.width && Number(grid.Height) === d.result.image?.height;
  },

  // wc -l counts LF bytes: CR-only line ends and an unterminated last line are not lines to it.
  'wc-counts-lf-only': async (d) => {
    if (d.tool !== 'wc -l' || d.field !== 'text.lineCount' || !d.result.text) return false;
    return Number(d.theirs) + (await lfOnlyShortfall(d.file, d.result.text.encoding)) === Number(d.ours);
  },
};

/** The docs/cross-check.md section that explains a disagreement, or undefined. */
export async function explain(d: Disagreement): Promise<string | undefined> {
  for (const [id, rule] of Object.entries(rules)) if (await rule(d)) return id;
  return undefined;
}
