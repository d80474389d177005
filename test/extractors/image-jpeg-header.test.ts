/**
 * The JS JPEG header reader (image-jpeg-header.ts) against libvips: whenever it answers, sharp's
 * metadata() must succeed on the same bytes and map to the same ImageInfo. Inputs: the JPEG fixtures,
 * variants written by sharp (progressive, mozjpeg scans, subsampling, grey, CMYK, ICC, every EXIF
 * orientation), hand-made EXIF blocks in both byte orders (odd types, counts, values, offsets, duplicate
 * segments, MPF), every cut of their headers and seeded random mutations of header bytes.
 */
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import sharp, { type Sharp } from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { jpegHeader } from '../../src/extractors/image-jpeg-header.js';
import { jpegMetadata } from '../../src/extractors/image-sharp.js';
import { fixturesDir } from '../helpers/fixtures.js';
import { prng } from '../../scripts/fuzz.js';
import { agreeWithSharp } from '../helpers/sharp-agreement.js';

function base(): Sharp {
  const width = 40;
  const height = 24;
  const px = Buffer.alloc(width * height * 3);
  for (let i = 0; i < px.length; i++) px[i] = (i * 37) % 251;
  return sharp(px, { raw: { width, height, channels: 3 } });
}

/** APP1 "Exif\0\0" around a TIFF header and IFD0 (at `ifdOffset`, the header saying `pointAt`) with the given 12-byte entries. */
function exifSegment(le: boolean, entries: Buffer[], ifdOffset = 8, pointAt = ifdOffset): Buffer {
  const tiff = Buffer.alloc(ifdOffset + 2 + entries.length * 12 + 4);
  tiff.write(le ? 'II' : 'MM', 0, 'latin1');
  if (le) {
    tiff.writeUInt16LE(42, 2);
    tiff.writeUInt32LE(pointAt, 4);
    if (ifdOffset + 2 <= tiff.length) tiff.writeUInt16LE(entries.length, ifdOffset);
  } else {
    tiff.writeUInt16BE(42, 2);
    tiff.writeUInt32BE(pointAt, 4);
    if (ifdOffset + 2 <= tiff.length) tiff.writeUInt16BE(entries.length, ifdOffset);
  }
  entries.forEach((e, i) => e.copy(tiff, ifdOffset + 2 + i * 12));
  const body = Buffer.concat([Buffer.from('Exif\0\0', 'latin1'), tiff]);
  const head = Buffer.from([0xff, 0xe1, 0, 0]);
  head.writeUInt16BE(body.length + 2, 2);
  return Buffer.concat([head, body]);
}

function entry(le: boolean, tag: number, type: number, count: number, value: number): Buffer {
  const e = Buffer.alloc(12);
  if (le) {
    e.writeUInt16LE(tag, 0);
    e.writeUInt16LE(type, 2);
    e.writeUInt32LE(count, 4);
    if (type === 3) e.writeUInt16LE(value, 8);
    else e.writeUInt32LE(value, 8);
  } else {
    e.writeUInt16BE(tag, 0);
    e.writeUInt16BE(type, 2);
    e.writeUInt32BE(count, 4);
    if (type === 3) e.writeUInt16BE(value, 8);
    else e.writeUInt32BE(value, 8);
  }
  return e;
}

/** `segments` put right after SOI. */
const withSegments = (jpeg: Buffer, ...segments: Buffer[]) => Buffer.concat([jpeg.subarray(0, 2), ...segments, jpeg.subarray(2)]);

/** Offset just past the first SOS segment (where the header ends), or the length when there is none. */
function headerEnd(b: Buffer): number {
  let pos = 2;
  while (pos + 4 <= b.length && b[pos] === 0xff) {
    const m = b[pos + 1]!;
    const end = pos + 2 + b.readUInt16BE(pos + 2);
    if (m === 0xda) return Math.min(end, b.length);
    pos = end;
  }
  return b.length;
}

const named: [string, Buffer][] = [];

beforeAll(async () => {
  const dir = path.join(fixturesDir, 'image');
  for (const name of readdirSync(dir).filter((n) => n.endsWith('.jpg'))) named.push([name, readFileSync(path.join(dir, name))]);
  const plain = await base().jpeg().toBuffer();
  const variants: [string, Promise<Buffer>][] = [
    ['baseline', Promise.resolve(plain)],
    ['progressive', base().jpeg({ progressive: true }).toBuffer()],
    ['mozjpeg', base().jpeg({ mozjpeg: true }).toBuffer()],
    ['444', base().jpeg({ chromaSubsampling: '4:4:4' }).toBuffer()],
    ['grey', base().toColourspace('b-w').jpeg().toBuffer()],
    ['cmyk', base().toColourspace('cmyk').jpeg().toBuffer()],
    ['icc', base().jpeg().withIccProfile('p3').toBuffer()],
    ...[1, 2, 3, 4, 5, 6, 7, 8].map((o): [string, Promise<Buffer>] => [`orient-${o}`, base().jpeg().withMetadata({ orientation: o }).toBuffer()]),
  ];
  for (const [name, data] of variants) named.push([name, await data]);
  for (const le of [true, false]) {
    const e = (tag: number, type: number, count: number, value: number) => entry(le, tag, type, count, value);
    const o = le ? 'II' : 'MM';
    for (const v of [0, 1, 3, 6, 8, 9, 0xffff]) named.push([`${o} orientation ${v}`, withSegments(plain, exifSegment(le, [e(0x0112, 3, 1, v)]))]);
    named.push([`${o} orientation after other tags`, withSegments(plain, exifSegment(le, [e(0x010f, 2, 4, 0x41424300), e(0x0112, 3, 1, 6), e(0x011a, 5, 1, 100)]))]);
    named.push([`${o} orientation as LONG`, withSegments(plain, exifSegment(le, [e(0x0112, 4, 1, 6)]))]);
    named.push([`${o} orientation count 2`, withSegments(plain, exifSegment(le, [e(0x0112, 3, 2, 6)]))]);
    named.push([`${o} orientation twice`, withSegments(plain, exifSegment(le, [e(0x0112, 3, 1, 6), e(0x0112, 3, 1, 3)]))]);
    named.push([`${o} no orientation`, withSegments(plain, exifSegment(le, [e(0x010f, 2, 4, 0x41424300)]))]);
    named.push([`${o} IFD0 past the end`, withSegments(plain, exifSegment(le, [e(0x0112, 3, 1, 6)], 8, 4000))]);
    named.push([`${o} two EXIF segments`, withSegments(plain, exifSegment(le, [e(0x0112, 3, 1, 6)]), exifSegment(le, [e(0x0112, 3, 1, 8)]))]);
  }
  const mpf = Buffer.concat([Buffer.from([0xff, 0xe2, 0, 10]), Buffer.from('MPF\0MM\0*', 'latin1')]);
  named.push(['MPF segment', withSegments(plain, mpf)]);
  named.push(['COM segment', withSegments(plain, Buffer.concat([Buffer.from([0xff, 0xfe, 0, 7]), Buffer.from('hello', 'latin1')]))]);
  named.push(['fill bytes', withSegments(plain, Buffer.from([0xff, 0xff, 0xff, 0xfe, 0, 3, 0x41]))]);
}, 60_000);

/** Where the JS reader answers, libvips must agree. */
const agree = (cases: [string, Buffer][]) =>
  agreeWithSharp(cases, (bytes) => {
    const h = jpegHeader(bytes);
    return h ? jpegMetadata(h) : undefined;
  });

describe('JPEG header read in JS equals libvips', () => {
  it('fixtures, variants and hand-made EXIF', async () => {
    const { answered, mismatches } = await agree(named);
    expect(mismatches).toEqual([]);
    // The plain cases really take the JS path (else this test would prove nothing).
    expect(answered).toBeGreaterThan(30);
  });

  it('orientation by hand: II and MM, and what is left to libvips', () => {
    const byName = new Map(named);
    const h = (name: string) => jpegHeader(byName.get(name)!);
    expect(h('II orientation 6')?.orientation).toBe(6);
    expect(h('MM orientation 8')?.orientation).toBe(8);
    expect(h('II orientation after other tags')?.orientation).toBe(6);
    expect(h('MM no orientation')?.orientation).toBe(1);
    for (const name of ['II orientation 0', 'MM orientation 9', 'II orientation as LONG', 'MM orientation count 2', 'II orientation twice', 'MM IFD0 past the end', 'II two EXIF segments', 'MPF segment']) {
      expect(h(name), name).toBeNull();
    }
    expect(h('baseline')).toEqual({ width: 40, height: 24, components: 3, orientation: 1 });
    expect(h('grey')?.components).toBe(1);
    expect(h('cmyk')?.components).toBe(4);
  });

  it('every cut inside the header', async () => {
    const cases: [string, Buffer][] = [];
    for (const [name, bytes] of named) {
      const end = Math.min(headerEnd(bytes) + 2, bytes.length);
      for (let n = 0; n <= end; n += n < 64 ? 1 : 7) cases.push([`${name} cut at ${n}`, bytes.subarray(0, n)]);
    }
    const { mismatches } = await agree(cases);
    expect(mismatches).toEqual([]);
  }, 60_000);

  it('seeded random mutations of header bytes', async () => {
    // JPEG_MUTATION_SEED runs another seed (the committed one stays the default).
    const random = prng(Number(process.env.JPEG_MUTATION_SEED ?? 20260407));
    const cases: [string, Buffer][] = [];
    for (const [name, bytes] of named) {
      const end = headerEnd(bytes);
      for (let i = 0; i < 120; i++) {
        const copy = Buffer.from(bytes);
        const flips = 1 + Math.floor(random() * 3);
        const at: number[] = [];
        for (let f = 0; f < flips; f++) {
          const p = Math.floor(random() * end);
          const kind = random();
          copy[p] = kind < 0.2 ? 0xff : kind < 0.35 ? 0 : kind < 0.5 ? copy[p]! ^ (1 << Math.floor(random() * 8)) : Math.floor(random() * 256);
          at.push(p);
        }
        cases.push([`${name} mutated at ${at.join(',')}`, copy]);
      }
    }
    const { answered, mismatches } = await agree(cases);
    expect(mismatches).toEqual([]);
    expect(answered).toBeGreaterThan(cases.length / 4);
  }, 120_000);
});
