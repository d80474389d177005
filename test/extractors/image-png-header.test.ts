/**
 * The JS PNG header reader (image-png-header.ts) against libvips: whenever it answers, sharp's
 * metadata() must succeed on the same bytes and map to the same ImageInfo. Inputs: the PNG fixtures,
 * PNGs built here chunk by chunk (every bit depth and colour type, with and without PLTE and tRNS, the
 * ancillary chunks the reader accepts, and ones it leaves to libvips), files written by sharp, every cut
 * of them and seeded random mutations anywhere in the file.
 */
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { deflateSync } from 'node:zlib';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { pngHeader } from '../../src/extractors/image-png-header.js';
import { imageInfoOf, pngMetadata } from '../../src/extractors/image-sharp.js';
import { fixturesDir } from '../helpers/fixtures.js';
import { prng } from '../../scripts/fuzz.js';
import { agreeWithSharp } from '../helpers/sharp-agreement.js';

const crcTable = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc(b: Buffer): number {
  let c = 0xffffffff;
  for (const x of b) c = crcTable[(c ^ x) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type: string, data: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const c = Buffer.alloc(4);
  c.writeUInt32BE(crc(body));
  return Buffer.concat([len, body, c]);
}

const channelsOf: Record<number, number> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };

/** A w x h PNG of zero samples with `before` chunks ahead of IDAT and `after` chunks behind it. */
function png(w: number, h: number, depth: number, colorType: number, before: Buffer[] = [], after: Buffer[] = []): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr[8] = depth;
  ihdr[9] = colorType;
  const rowBytes = Math.ceil((w * channelsOf[colorType]! * depth) / 8);
  const raw = Buffer.alloc((rowBytes + 1) * h);
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    ...before,
    chunk('IDAT', deflateSync(raw)),
    ...after,
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

const plte = (n: number) => chunk('PLTE', Buffer.alloc(3 * n, 0x40));
const u32 = (...v: number[]) => Buffer.concat(v.map((x) => { const b = Buffer.alloc(4); b.writeUInt32BE(x); return b; }));

/** A big-endian TIFF block whose IFD0 holds Orientation = 6 (one SHORT). */
const orientation6 = Buffer.from('4d4d002a00000008000101120003000000010006000000000000', 'hex');

const named: [string, Buffer][] = [];

beforeAll(async () => {
  const dir = path.join(fixturesDir, 'image');
  for (const name of readdirSync(dir).filter((n) => n.endsWith('.png'))) named.push([name, readFileSync(path.join(dir, name))]);
  for (const d of [1, 2, 4, 8, 16]) {
    named.push([`grey${d}`, png(5, 3, d, 0)]);
    named.push([`grey${d} tRNS`, png(5, 3, d, 0, [chunk('tRNS', Buffer.from([0, 1]))])]);
  }
  for (const d of [8, 16]) {
    named.push([`grey-alpha${d}`, png(5, 3, d, 4)]);
    named.push([`rgb${d}`, png(5, 3, d, 2)]);
    named.push([`rgb${d} tRNS`, png(5, 3, d, 2, [chunk('tRNS', Buffer.alloc(6))])]);
    named.push([`rgb${d} suggested PLTE`, png(5, 3, d, 2, [plte(4)])]);
    named.push([`rgba${d}`, png(5, 3, d, 6)]);
  }
  for (const d of [1, 2, 4, 8]) {
    named.push([`palette${d}`, png(5, 3, d, 3, [plte(2)])]);
    named.push([`palette${d} tRNS`, png(5, 3, d, 3, [plte(2), chunk('tRNS', Buffer.from([0]))])]);
  }
  const ancillary = [
    chunk('gAMA', u32(45455)),
    chunk('cHRM', u32(31270, 32900, 64000, 33000, 30000, 60000, 15000, 6000)),
    chunk('sBIT', Buffer.from([8, 8, 8])),
  ];
  named.push(['rgb8 gAMA cHRM sBIT pHYs tIME bKGD', png(7, 2, 8, 2, [...ancillary, chunk('pHYs', Buffer.concat([u32(2835, 2835), Buffer.from([1])])), chunk('tIME', Buffer.from([7, 0xea, 4, 7, 12, 30, 0])), chunk('bKGD', Buffer.alloc(6))])]);
  named.push(['rgb8 sRGB', png(7, 2, 8, 2, [chunk('sRGB', Buffer.from([0]))])]);
  named.push(['palette bKGD', png(7, 2, 8, 3, [plte(3), chunk('bKGD', Buffer.from([2]))])]);
  named.push(['interlaced', (() => { const b = png(7, 5, 8, 2); b[8 + 8 + 12] = 1; const ihdr = b.subarray(12, 12 + 17); b.writeUInt32BE(crc(ihdr), 12 + 17); return b; })()]);
  // The size bound the reader keeps (libvips itself refuses sides over 100,000,000).
  named.push(['10,000,000 wide', png(10_000_000, 1, 1, 0)]);
  named.push(['10,000,001 wide', png(10_000_001, 1, 1, 0)]);
  // Left to libvips: text, EXIF before IDAT, an unknown chunk, APNG. An EXIF after IDAT is not read by either.
  named.push(['tEXt', png(5, 3, 8, 2, [chunk('tEXt', Buffer.from('Comment\0hello', 'latin1'))])]);
  named.push(['eXIf before IDAT', png(5, 3, 8, 2, [chunk('eXIf', orientation6)])]);
  named.push(['eXIf after IDAT', png(5, 3, 8, 2, [], [chunk('eXIf', orientation6)])]);
  named.push(['unknown ancillary', png(5, 3, 8, 2, [chunk('prVt', Buffer.from('x'))])]);
  named.push(['acTL', png(5, 3, 8, 6, [chunk('acTL', u32(1, 0))])]);
  named.push(['sharp rgba', await sharp({ create: { width: 9, height: 4, channels: 4, background: '#10203080' } }).png().toBuffer()]);
  named.push(['sharp palette', await sharp({ create: { width: 9, height: 4, channels: 3, background: '#102030' } }).png({ palette: true }).toBuffer()]);
  named.push(['sharp 16-bit', await sharp({ create: { width: 9, height: 4, channels: 3, background: '#102030' } }).toColourspace('rgb16').png().toBuffer()]);
});

/** Where the JS reader answers, libvips must agree. */
const agree = (cases: [string, Buffer][]) =>
  agreeWithSharp(cases, (bytes) => {
    const h = pngHeader(bytes);
    return h ? pngMetadata(h) : undefined;
  });

/** Rewrites the CRC of every chunk whose structure is intact. */
function fixCrcs(b: Buffer): void {
  let pos = 8;
  while (pos + 12 <= b.length) {
    const end = pos + 8 + b.readUInt32BE(pos);
    if (end + 4 > b.length) return;
    b.writeUInt32BE(crc(b.subarray(pos + 4, end)), end);
    pos = end + 4;
  }
}

describe('PNG header read in JS equals libvips', () => {
  it('fixtures, built files and sharp files', async () => {
    const { answered, mismatches } = await agree(named);
    expect(mismatches).toEqual([]);
    expect(answered).toBeGreaterThan(30);
  });

  it('by hand: channels, depth and what is left to libvips', () => {
    const byName = new Map(named);
    const info = (name: string) => {
      const h = pngHeader(byName.get(name)!);
      return h && imageInfoOf(pngMetadata(h));
    };
    // Colour type 0 at 4 bits with a tRNS grey level: one grey band plus the alpha libvips adds.
    expect(info('grey4 tRNS')).toMatchObject({ width: 5, height: 3, channels: 2, hasAlpha: true, bitsPerSample: 4, colorSpace: 'gray' });
    expect(info('rgb16')).toMatchObject({ channels: 3, hasAlpha: false, bitsPerSample: 16, colorSpace: 'srgb' });
    // A palette's entries are 8-bit RGB, whatever the index depth.
    expect(info('palette2 tRNS')).toMatchObject({ channels: 4, hasAlpha: true, bitsPerSample: 8, colorSpace: 'srgb' });
    expect(info('grey-alpha16')).toMatchObject({ channels: 2, hasAlpha: true, bitsPerSample: 16, colorSpace: 'gray' });
    expect(info('10,000,000 wide')).toMatchObject({ width: 10_000_000, height: 1 });
    for (const name of ['tEXt', 'eXIf before IDAT', 'unknown ancillary', 'acTL', '10,000,001 wide']) expect(pngHeader(byName.get(name)!), name).toBeNull();
    // libvips reads chunks up to the first IDAT only: an eXIf after the image data gives no orientation
    // there (the first test checks that sharp agrees), so the reader does not look either.
    expect(info('eXIf after IDAT')).toMatchObject({ orientation: 1 });
  });

  it('every cut', async () => {
    const cases: [string, Buffer][] = [];
    for (const [name, bytes] of named) {
      for (let n = 0; n < Math.min(bytes.length, 400); n += n < 120 ? 1 : 5) cases.push([`${name} cut at ${n}`, bytes.subarray(0, n)]);
    }
    const { mismatches } = await agree(cases);
    expect(mismatches).toEqual([]);
  }, 60_000);

  it('seeded random mutations anywhere in small files', async () => {
    const random = prng(Number(process.env.PNG_MUTATION_SEED ?? 20260408));
    const cases: [string, Buffer][] = [];
    for (const [name, bytes] of named) {
      if (bytes.length > 4096) continue;
      for (let i = 0; i < 120; i++) {
        const copy = Buffer.from(bytes);
        const at: number[] = [];
        for (let f = 1 + Math.floor(random() * 2); f > 0; f--) {
          const p = Math.floor(random() * copy.length);
          const kind = random();
          copy[p] = kind < 0.3 ? copy[p]! ^ (1 << Math.floor(random() * 8)) : kind < 0.45 ? 0 : Math.floor(random() * 256);
          at.push(p);
        }
        // Half the mutants get their CRCs recomputed, so the chunk contents themselves are put to libvips.
        const fixed = random() < 0.5;
        if (fixed) fixCrcs(copy);
        cases.push([`${name} mutated at ${at.join(',')}${fixed ? ', CRCs fixed' : ''}`, copy]);
      }
    }
    const { mismatches } = await agree(cases);
    expect(mismatches).toEqual([]);
  }, 120_000);
});
