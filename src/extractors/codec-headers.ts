/**
 * Codec headers the in-process container readers (mp4-reader.ts, avi-reader.ts) check against their
 * container's own fields: what FFmpeg 4.0's decoders report after avformat_find_stream_info, read from the
 * elementary stream rather than from the container.
 * - H.264 SPS → cropped picture size (h264_ps.c ff_h264_decode_seq_parameter_set).
 * - MPEG-4 part 2 VOL → picture size (mpeg4videodec.c decode_vol_header).
 * - JPEG SOF → picture size (mjpegdec.c).
 * - AAC AudioSpecificConfig → rate and channels (ff_mp4_read_dec_config_descr, plain AAC only).
 * Every function answers only when it is sure; otherwise it throws CodecHeaderUnsure, which each reader's
 * edge treats like its own "unsure" (ffprobe then decides).
 */

/** A codec header this module cannot read with certainty. Thrown here, caught at each reader's edge. */
export class CodecHeaderUnsure extends Error {}
function unsure(why: string): never {
  throw new CodecHeaderUnsure(why);
}

/** MSB-first bits of a byte buffer (ITU-T H.264 §7.2, ISO/IEC 14496-2 §5.2); running off its end is unsure. */
export class BitReader {
  private at = 0;
  constructor(private readonly buf: Buffer) {}
  u(n: number): number {
    let v = 0;
    for (let i = 0; i < n; i++, this.at++) {
      const byte = this.buf[this.at >> 3];
      if (byte === undefined) unsure('a codec header is cut off');
      v = v * 2 + ((byte >> (7 - (this.at & 7))) & 1);
    }
    return v;
  }
  /** Exp-Golomb ue(v); more than 31 leading zeros is unsure. */
  ue(): number {
    let zeros = 0;
    while (this.u(1) === 0) if (++zeros > 31) unsure('bad Exp-Golomb code');
    return 2 ** zeros - 1 + this.u(zeros);
  }
  se(): number {
    const k = this.ue();
    return k & 1 ? (k + 1) / 2 : -(k / 2);
  }
  marker(): void {
    if (this.u(1) !== 1) unsure('a marker bit is 0');
  }
  get left(): number {
    return this.buf.length * 8 - this.at;
  }
}

const startCode = Buffer.from([0, 0, 1]);

/** Offsets just past each 00 00 01 start code in buf. */
function* startCodes(buf: Buffer): Generator<number> {
  for (let i = buf.indexOf(startCode); i >= 0; i = buf.indexOf(startCode, i + 3)) yield i + 3;
}

/** The picture size of the first MPEG-4 part 2 VOL header (ISO/IEC 14496-2 §6.2.3) in buf, as decode_vol_header reads it. */
export function mpeg4VolSize(buf: Buffer): [number, number] | undefined {
  for (const at of startCodes(buf)) {
    if (buf[at] === undefined || (buf[at] as number) < 0x20 || (buf[at] as number) > 0x2f) continue;
    const b = new BitReader(buf.subarray(at + 1));
    b.u(1);
    const voType = b.u(8);
    if (voType !== 1 && voType !== 0x11) unsure(`VOL object type ${voType}`);
    if (b.u(1)) b.u(7);
    if (b.u(4) === 15) b.u(16);
    if (b.u(1)) {
      b.u(3); // chroma_format, low_delay
      if (b.u(1)) b.u(79); // vbv_parameters
    }
    if (b.u(2) !== 0) unsure('not a rectangular VOL');
    b.marker();
    const resolution = b.u(16);
    if (!resolution) unsure('VOL time resolution 0');
    b.marker();
    // fixed_vop_time_increment: av_log2(resolution - 1) + 1 bits.
    if (b.u(1)) b.u((resolution - 1).toString(2).length);
    b.marker();
    const width = b.u(13);
    b.marker();
    const height = b.u(13);
    b.marker();
    return [width, height];
  }
  return undefined;
}

/** Profiles whose SPS carries chroma_format_idc, bit depths and scaling matrices, as h264_ps.c lists them. */
const chromaProfiles = [100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 144];
/**
 * Profiles the MP4 and AVI readers used to read differently (h264_ps.c reads those fields for 144, not for
 * 134, 135 or 139): declined, so neither reader answers otherwise than it did.
 */
const declinedProfiles = [134, 135, 139, 144];

/** The payload of a NAL unit (its 1-byte header dropped) without emulation prevention bytes (00 00 03 → 00 00). */
function rbsp(nal: Buffer): Buffer {
  const out: number[] = [];
  for (let i = 1; i < nal.length; i++) {
    const v = nal[i] as number;
    if (v === 3 && i >= 3 && nal[i - 1] === 0 && nal[i - 2] === 0) continue;
    out.push(v);
  }
  return Buffer.from(out);
}

/**
 * The cropped picture size of an H.264 SPS NAL unit (header byte included; ITU-T H.264 §7.3.2.1.1), as
 * h264_ps.c computes it. Whatever that function rejects (separate colour planes, bit depth over 14, long
 * frame_num or POC lsb, more than 16 reference frames, crops past the picture) is unsure, and so are SPS
 * scaling matrices (not parsed here) and left cropping (some FFmpeg versions shrink it to keep alignment).
 */
export function h264SpsSize(nal: Buffer): [number, number] {
  const b = new BitReader(rbsp(nal));
  const profile = b.u(8);
  b.u(16); // constraint flags, level_idc
  b.ue(); // seq_parameter_set_id
  if (declinedProfiles.includes(profile)) unsure(`H.264 profile ${profile}`);
  let chroma = 1;
  if (chromaProfiles.includes(profile)) {
    chroma = b.ue();
    if (chroma > 3 || (chroma === 3 && b.u(1))) unsure('chroma format or separate colour planes');
    if (b.ue() > 6 || b.ue() > 6) unsure('bit depth');
    b.u(1);
    if (b.u(1)) unsure('SPS scaling matrices');
  }
  if (b.ue() > 12) unsure('log2_max_frame_num');
  const poc = b.ue();
  if (poc === 0) {
    if (b.ue() > 12) unsure('log2_max_poc_lsb');
  } else if (poc === 1) {
    b.u(1); // delta_pic_order_always_zero_flag
    b.se(); // offset_for_non_ref_pic
    b.se(); // offset_for_top_to_bottom_field
    const cycle = b.ue();
    if (cycle > 255) unsure('POC cycle length');
    for (let i = 0; i < cycle; i++) b.se();
  } else if (poc !== 2) unsure(`POC type ${poc}`);
  if (b.ue() > 16) unsure('reference frames');
  b.u(1);
  const mbWidth = b.ue() + 1;
  const mapUnits = b.ue() + 1;
  const frameMbsOnly = b.u(1);
  const mbHeight = mapUnits * (2 - frameMbsOnly);
  if (!frameMbsOnly) b.u(1);
  b.u(1);
  let [cropX, cropY] = [0, 0];
  if (b.u(1)) {
    const [left, right, top, bottom] = [b.ue(), b.ue(), b.ue(), b.ue()];
    if (left) unsure('SPS crops left');
    cropX = right * (chroma === 1 || chroma === 2 ? 2 : 1);
    cropY = (top + bottom) * (2 - frameMbsOnly) * (chroma === 1 ? 2 : 1);
  }
  if (cropX >= 16 * mbWidth || cropY >= 16 * mbHeight) unsure('crop values invalid');
  return [16 * mbWidth - cropX, 16 * mbHeight - cropY];
}

/** The cropped picture size of the first SPS in an H.264 Annex B byte stream (start codes), if any. */
export function h264AnnexBSize(buf: Buffer): [number, number] | undefined {
  for (const at of startCodes(buf)) {
    if (((buf[at] ?? 0) & 0x1f) !== 7) continue;
    const end = buf.indexOf(startCode, at);
    return h264SpsSize(buf.subarray(at, end < 0 ? buf.length : end));
  }
  return undefined;
}

/** The size in a baseline or extended JPEG's SOF (ITU T.81 §B.2.2); other SOF types decline. */
export function jpegSofSize(buf: Buffer): [number, number] | undefined {
  if (buf.length < 2 || buf.readUInt16BE(0) !== 0xffd8) unsure('not a JPEG frame');
  for (let at = 2; at + 9 <= buf.length; at += 2 + buf.readUInt16BE(at + 2)) {
    const marker = buf.readUInt16BE(at);
    if (marker === 0xffc0 || marker === 0xffc1) return [buf.readUInt16BE(at + 7), buf.readUInt16BE(at + 5)];
    // Only tables, restart intervals, comments and application data may come first.
    if (!(marker === 0xffc4 || marker === 0xffdb || marker === 0xffdd || marker === 0xfffe || (marker >= 0xffe0 && marker <= 0xffef))) {
      unsure(`JPEG marker ${marker.toString(16)} before the SOF`);
    }
  }
  return undefined;
}

const aacRates = [96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350];

/**
 * Plain AAC (object type 1-4, no SBR/PS) from the AudioSpecificConfig (ISO/IEC 14496-3 §1.6.2.1): the
 * channel count and rate ffprobe reports. Anything that may carry SBR or PS (object type 5/29, an SBR
 * extension) is unsure: FFmpeg's decoder doubles the rate when it finds SBR in the data. A container rate
 * that differs from this one (implicit HE-AAC signalling) is for the caller to decline.
 */
export function aacConfig(asc: Buffer | undefined): { sampleRate: number; channels: number } {
  if (!asc || asc.length < 2 || asc.length > 16) unsure('AudioSpecificConfig not plain');
  const b = new BitReader(asc);
  const aot = b.u(5);
  const sfi = b.u(4);
  const chan = b.u(4);
  if (aot < 1 || aot > 4) unsure(`AAC object type ${aot}`);
  const sampleRate = aacRates[sfi] ?? unsure('escape sample rate');
  if (chan < 1 || chan > 6) unsure(`AAC channel configuration ${chan}`);
  b.u(1); // frameLengthFlag
  if (b.u(1)) unsure('dependsOnCoreCoder');
  if (b.u(1)) unsure('extensionFlag');
  if (asc.length > 2) {
    // Backward-compatible signalling (§1.6.5.2), as FFmpeg's AAC encoder writes it: sync 0x2b7, extension
    // type SBR, sbrPresentFlag 0, i.e. "no SBR" stated outright. Anything else (SBR or PS present, other
    // extensions) is unsure.
    if (b.u(11) !== 0x2b7 || b.u(5) !== 5 || b.u(1) !== 0) unsure('AAC extension signalling');
    if (b.left >= 12 && b.u(11) === 0x548 && b.u(1) !== 0) unsure('parametric stereo');
    while (b.left > 0) if (b.u(1)) unsure('trailing bits');
  }
  return { sampleRate, channels: chan };
}
