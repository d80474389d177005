/**
 * The codec headers both in-process container readers check (codec-headers.ts): SPS bytes written by
 * ffmpeg's libx264, hand-made SPS for the cases x264 does not write (POC type 1, top and left cropping,
 * odd profiles), a VOL written by ffmpeg's mpeg4 encoder, hand-made JPEG and AAC headers, and cut inputs,
 * which must be "unsure" (CodecHeaderUnsure), never another error.
 */
import { describe, expect, it } from 'vitest';
import {
  aacConfig,
  BitReader,
  CodecHeaderUnsure,
  h264AnnexBSize,
  h264SpsSize,
  jpegSofSize,
  mpeg4VolSize,
} from '../../src/extractors/codec-headers.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

/** SPS NAL units (header byte 0x67 included) as libx264 wrote them for ffmpeg's testsrc. */
const x264 = {
  /** 1920x1080 yuv420p, Constrained Baseline: 1088 coded lines, frame_crop_bottom_offset 4. */
  hd420: hex('6742c028da01e0089f97011000000300100000030320f1832a'),
  /** 1920x1080 yuv444p, High 4:4:4 Predictive (profile 244): chroma_format_idc 3, so a crop unit is one line. */
  hd444: hex('67f40028919680780227e27011000003000100000300320f1832a0'),
  /** 720x576 yuv420p, interlaced (frame_mbs_only_flag 0): 18 map units of two macroblock rows. */
  pal: hex('6764001eacd940b424d8088000000300800000190f8a14cb'),
};

/** MSB-first bit writer for hand-made headers. */
class Writer {
  private bits: number[] = [];
  u(n: number, v: number): this {
    for (let i = n - 1; i >= 0; i--) this.bits.push(Math.floor(v / 2 ** i) % 2);
    return this;
  }
  ue(v: number): this {
    const len = (v + 1).toString(2).length;
    return this.u(len - 1, 0).u(len, v + 1);
  }
  se(v: number): this {
    return this.ue(v > 0 ? 2 * v - 1 : -2 * v);
  }
  /** With rbsp_trailing_bits, as bytes. */
  bytes(): Buffer {
    const b = [...this.bits, 1];
    while (b.length % 8) b.push(0);
    return Buffer.from(Array.from({ length: b.length / 8 }, (_, i) => parseInt(b.slice(i * 8, i * 8 + 8).join(''), 2)));
  }
}

interface SpsFields {
  profile?: number;
  chroma?: number;
  separatePlanes?: number;
  bitDepth?: number;
  poc?: number;
  mbWidth: number;
  mapUnits: number;
  frameMbsOnly?: number;
  crop?: [number, number, number, number];
}

/** A hand-made SPS NAL unit (ITU-T H.264 §7.3.2.1.1) with the given fields; the rest zero or minimal. */
function sps(f: SpsFields): Buffer {
  const w = new Writer().u(8, f.profile ?? 66).u(16, 0x001e).ue(0);
  if (f.chroma !== undefined) {
    w.ue(f.chroma);
    if (f.chroma === 3) w.u(1, f.separatePlanes ?? 0);
    w.ue(f.bitDepth ?? 0).ue(f.bitDepth ?? 0).u(1, 0).u(1, 0);
  }
  w.ue(0).ue(f.poc ?? 0);
  if ((f.poc ?? 0) === 0) w.ue(2);
  if (f.poc === 1) w.u(1, 0).se(-2).se(1).ue(3).se(4).se(-5).se(6);
  w.ue(4).u(1, 0).ue(f.mbWidth - 1).ue(f.mapUnits - 1).u(1, f.frameMbsOnly ?? 1);
  if (!(f.frameMbsOnly ?? 1)) w.u(1, 0);
  w.u(1, 1);
  if (f.crop) {
    w.u(1, 1);
    for (const c of f.crop) w.ue(c);
  } else w.u(1, 0);
  w.u(1, 0); // no VUI
  return Buffer.concat([Buffer.from([0x67]), w.bytes()]);
}

/** Every proper prefix of buf either gives `whole` or is unsure; no other error. */
function expectCutsUnsure<T>(buf: Buffer, read: (b: Buffer) => T, whole: T): void {
  for (let n = 0; n < buf.length; n++) {
    try {
      expect(read(buf.subarray(0, n)), `cut at ${n}`).toEqual(whole);
    } catch (err) {
      expect(err, `cut at ${n}`).toBeInstanceOf(CodecHeaderUnsure);
    }
  }
}

describe('h264SpsSize', () => {
  it.each([
    ['1920x1080 4:2:0, bottom crop of 4 chroma lines', x264.hd420, [1920, 1080]],
    ['1920x1080 4:4:4 (profile 244), bottom crop of 8 lines', x264.hd444, [1920, 1080]],
    ['720x576 interlaced', x264.pal, [720, 576]],
  ] as const)('x264: %s', (_name, nal, size) => {
    expect(h264SpsSize(nal)).toEqual(size);
  });

  it('cut SPS: unsure or, once past the size fields, the size', () => {
    expectCutsUnsure(x264.hd420, h264SpsSize, [1920, 1080]);
    expectCutsUnsure(x264.pal, h264SpsSize, [720, 576]);
    expect(() => h264SpsSize(x264.hd420.subarray(0, 6))).toThrow(CodecHeaderUnsure);
  });

  it('emulation prevention bytes are dropped before reading', () => {
    // 2^28 x 2 macroblocks (more than FFmpeg takes, but only the bits matter here): the Exp-Golomb
    // code of the width holds runs of 28 zero bits, so the NAL unit needs emulation prevention bytes.
    const plain = sps({ mbWidth: 2 ** 28, mapUnits: 2, crop: [0, 8, 0, 4] });
    const escaped: number[] = [];
    let zeros = 0;
    for (const v of plain) {
      if (zeros >= 2 && v <= 3) {
        escaped.push(3);
        zeros = 0;
      }
      escaped.push(v);
      zeros = v === 0 ? zeros + 1 : 0;
    }
    expect(escaped.length).toBeGreaterThan(plain.length);
    expect(h264SpsSize(Buffer.from(escaped))).toEqual([16 * 2 ** 28 - 16, 32 - 8]);
  });

  it('crop units follow the chroma format and field coding, as h264_ps.c', () => {
    expect(h264SpsSize(sps({ mbWidth: 20, mapUnits: 15, crop: [0, 3, 0, 2] }))).toEqual([320 - 6, 240 - 4]);
    expect(h264SpsSize(sps({ profile: 100, chroma: 0, mbWidth: 20, mapUnits: 15, crop: [0, 3, 0, 2] }))).toEqual([320 - 3, 240 - 2]);
    expect(h264SpsSize(sps({ profile: 122, chroma: 2, mbWidth: 20, mapUnits: 15, crop: [0, 3, 0, 2] }))).toEqual([320 - 6, 240 - 2]);
    expect(h264SpsSize(sps({ mbWidth: 20, mapUnits: 8, frameMbsOnly: 0, crop: [0, 0, 0, 2] }))).toEqual([320, 256 - 8]);
  });

  it('POC type 1 and top cropping are read as h264_ps.c reads them', () => {
    expect(h264SpsSize(sps({ poc: 1, mbWidth: 20, mapUnits: 15 }))).toEqual([320, 240]);
    expect(h264SpsSize(sps({ mbWidth: 20, mapUnits: 15, crop: [0, 0, 1, 1] }))).toEqual([320, 236]);
  });

  it.each([
    ['left cropping', { mbWidth: 20, mapUnits: 15, crop: [2, 0, 0, 0] }],
    ['a crop as wide as the picture', { mbWidth: 20, mapUnits: 15, crop: [0, 160, 0, 0] }],
    ['a crop as tall as the picture', { mbWidth: 20, mapUnits: 15, crop: [0, 0, 60, 60] }],
    ['separate colour planes', { profile: 244, chroma: 3, separatePlanes: 1, mbWidth: 20, mapUnits: 15 }],
    ['chroma_format_idc 4', { profile: 100, chroma: 4, mbWidth: 20, mapUnits: 15 }],
    ['bit depth 15', { profile: 110, chroma: 1, bitDepth: 7, mbWidth: 20, mapUnits: 15 }],
    ['POC type 3', { poc: 3, mbWidth: 20, mapUnits: 15 }],
    ['profile 144 (old High 4:4:4)', { profile: 144, chroma: 1, mbWidth: 20, mapUnits: 15 }],
    ['profile 139', { profile: 139, mbWidth: 20, mapUnits: 15 }],
  ] as [string, SpsFields][])('unsure: %s', (_name, fields) => {
    expect(() => h264SpsSize(sps(fields))).toThrow(CodecHeaderUnsure);
  });

  it('h264AnnexBSize: the first SPS after a start code, or undefined without one', () => {
    const aud = hex('00000001 0910');
    const pps = hex('00000001 68ce3880');
    expect(h264AnnexBSize(Buffer.concat([aud, hex('000001'), x264.hd420, pps]))).toEqual([1920, 1080]);
    expect(h264AnnexBSize(Buffer.concat([aud, pps]))).toBeUndefined();
    expect(h264AnnexBSize(Buffer.alloc(0))).toBeUndefined();
  });
});

describe('mpeg4VolSize', () => {
  /** The VOS, VO and VOL headers ffmpeg's mpeg4 encoder writes for 176x144 (-flags +bitexact). */
  const m4v = hex('000001b001 000001b58913 000001000000012000c48d8800cd058412144300 000001b3001007');

  it('176x144 from ffmpeg', () => {
    expect(mpeg4VolSize(m4v)).toEqual([176, 144]);
  });

  it('no VOL start code: undefined; a cut VOL: unsure', () => {
    expect(mpeg4VolSize(m4v.subarray(0, 14))).toBeUndefined();
    const vol = m4v.indexOf(hex('00000120')) + 4;
    for (let n = vol + 1; n < vol + 10; n++) expect(() => mpeg4VolSize(m4v.subarray(0, n)), `cut at ${n}`).toThrow(CodecHeaderUnsure);
  });

  it('a non-rectangular VOL is unsure', () => {
    const shaped = Buffer.from(m4v);
    const at = shaped.indexOf(hex('00000120')) + 4;
    // video_object_layer_shape is bits 26-27 after the start code here (object layer identifier, aspect
    // ratio and VOL control parameters come first, no VBV parameters); 01 is "binary".
    shaped[at + 3] = (shaped[at + 3] as number) | 0x10;
    expect(() => mpeg4VolSize(shaped)).toThrow(CodecHeaderUnsure);
  });
});

describe('jpegSofSize', () => {
  const app0 = hex('ffe0 0010 4a46494600 0101 000001000100 00');
  const sof = (marker: string): Buffer => hex(`${marker} 0011 08 00f3 0141 03 012200 021101 031101`);
  const soi = hex('ffd8');

  it('baseline and extended SOF after tables and APPn', () => {
    expect(jpegSofSize(Buffer.concat([soi, app0, sof('ffc0')]))).toEqual([321, 243]);
    expect(jpegSofSize(Buffer.concat([soi, sof('ffc1')]))).toEqual([321, 243]);
  });

  it('progressive SOF, no SOI: unsure; cut before the SOF: undefined', () => {
    expect(() => jpegSofSize(Buffer.concat([soi, sof('ffc2')]))).toThrow(CodecHeaderUnsure);
    expect(() => jpegSofSize(sof('ffc0'))).toThrow(CodecHeaderUnsure);
    expect(jpegSofSize(Buffer.concat([soi, app0]))).toBeUndefined();
  });
});

describe('aacConfig', () => {
  it('AAC LC 44.1 kHz stereo; with FFmpeg\'s "no SBR" signalling', () => {
    expect(aacConfig(hex('1210'))).toEqual({ sampleRate: 44100, channels: 2 });
    expect(aacConfig(hex('1190 56e500'))).toEqual({ sampleRate: 48000, channels: 2 });
  });

  it.each([
    ['missing', undefined],
    ['one byte', hex('12')],
    ['HE-AAC (object type 5)', hex('2b92 08')],
    ['SBR present', hex('1210 56e580')],
    ['escape sample rate', hex('17 80')],
  ])('unsure: %s', (_name, asc) => {
    expect(() => aacConfig(asc)).toThrow(CodecHeaderUnsure);
  });
});

describe('BitReader', () => {
  it('reads bits, Exp-Golomb codes and markers MSB first, and is unsure past the end', () => {
    const b = new BitReader(new Writer().u(3, 5).ue(0).ue(6).se(-3).se(2).u(1, 1).bytes());
    expect([b.u(3), b.ue(), b.ue(), b.se(), b.se()]).toEqual([5, 0, 6, -3, 2]);
    b.marker();
    expect(b.left).toBe(4);
    expect(() => b.u(5)).toThrow(CodecHeaderUnsure);
    expect(() => new BitReader(Buffer.alloc(5)).ue()).toThrow(CodecHeaderUnsure);
  });
});
