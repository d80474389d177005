/**
 * The JS WebP header reader (image-webp-header.ts) against libvips: whenever it answers, sharp's
 * metadata() must succeed on the same bytes and map to the same ImageInfo. Inputs: the WebP fixtures,
 * files made here by cwebp, img2webp, webpmux (Debian's webp package), ffmpeg and sharp, containers built
 * chunk by chunk (VP8X flags the frame agrees or disagrees with, sizes, unknown chunks, trailing bytes),
 * every cut of them and seeded random mutations of their first 64 bytes.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp, { type Sharp } from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { webpHeader, type WebpHeader } from '../../src/extractors/image-webp-header.js';
import { imageInfoOf, readWithSharp, sharpMetadata, webpMetadata } from '../../src/extractors/image-sharp.js';
import { fixturesDir } from '../helpers/fixtures.js';
import { prng } from '../../scripts/fuzz.js';
import { agreeWithSharp } from '../helpers/sharp-agreement.js';

function chunk(type: string, data: Buffer): Buffer {
  const h = Buffer.alloc(8);
  h.write(type, 0, 'latin1');
  h.writeUInt32LE(data.length, 4);
  return Buffer.concat([h, data, Buffer.alloc(data.length & 1)]);
}

/** RIFF/WEBP around `chunks`, its size field `extra` bytes off. */
function riff(chunks: Buffer[], extra = 0): Buffer {
  const h = Buffer.from('RIFF\0\0\0\0WEBP', 'latin1');
  const body = Buffer.concat(chunks);
  h.writeUInt32LE(body.length + 4 + extra, 4);
  return Buffer.concat([h, body]);
}

function vp8x(flags: number, width: number, height: number): Buffer {
  const d = Buffer.alloc(10);
  d[0] = flags;
  d.writeUIntLE(width - 1, 4, 3);
  d.writeUIntLE(height - 1, 7, 3);
  return chunk('VP8X', d);
}

/** The payload of each top-level chunk. */
function payloads(b: Buffer): Record<string, Buffer> {
  const out: Record<string, Buffer> = {};
  for (let p = 12; p + 8 <= b.length; ) {
    const n = b.readUInt32LE(p + 4);
    out[b.toString('latin1', p, p + 4)] = b.subarray(p + 8, p + 8 + n);
    p += 8 + n + (n & 1);
  }
  return out;
}

/** A w x h RGB(A) gradient, so the encoders have something to code. */
function raw(width: number, height: number, channels: 3 | 4): Sharp {
  const px = Buffer.alloc(width * height * channels);
  for (let i = 0; i < px.length; i++) px[i] = channels === 4 && i % 4 === 3 ? (i >> 4) & 0xff : (i * 37) % 251;
  return sharp(px, { raw: { width, height, channels } });
}

let dir: string;
const named: [string, Buffer][] = [];
/** What each made file is, from how it was made; undefined: left to libvips. */
const facts: [string, WebpHeader | undefined][] = [];

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'webp-header-'));
  const f = (name: string) => path.join(dir, name);
  const fixtures = path.join(fixturesDir, 'image');
  for (const n of readdirSync(fixtures).filter((n) => n.endsWith('.webp'))) named.push([n, readFileSync(path.join(fixtures, n))]);
  facts.push(['webp-alpha.webp', { width: 5, height: 3, lossless: true, hasAlpha: true }], ['webp-anim-3.webp', undefined]);

  await raw(333, 77, 3).png().toFile(f('rgb.png'));
  await raw(333, 77, 4).png().toFile(f('rgba.png'));
  await raw(1, 1, 3).png().toFile(f('one.png'));
  await raw(16383, 1, 3).png().toFile(f('wide.png'));
  await raw(1, 16383, 4).png().toFile(f('tall.png'));
  await raw(333, 77, 3).withMetadata({ orientation: 6 }).jpeg().toFile(f('o6.jpg'));
  const make = (name: string, fact: WebpHeader | undefined, tool: string, args: string[]) => {
    execFileSync(tool, args, { stdio: 'ignore' });
    named.push([name, readFileSync(f(name))]);
    facts.push([name, fact]);
  };
  const rgb = { width: 333, height: 77, lossless: false, hasAlpha: false };
  const cwebp = (name: string, fact: WebpHeader | undefined, ...args: string[]) => make(name, fact, 'cwebp', ['-quiet', ...args, '-o', f(name)]);
  cwebp('lossy.webp', rgb, f('rgb.png'));
  cwebp('lossless.webp', { ...rgb, lossless: true }, '-lossless', f('rgb.png'));
  // Lossy with alpha: VP8X (alpha flag) + ALPH + VP8. Lossless with alpha: a simple VP8L, alpha bit set.
  cwebp('lossy-alpha.webp', { ...rgb, hasAlpha: true }, f('rgba.png'));
  cwebp('lossless-alpha.webp', { ...rgb, lossless: true, hasAlpha: true }, '-lossless', f('rgba.png'));
  cwebp('one.webp', { width: 1, height: 1, lossless: false, hasAlpha: false }, f('one.png'));
  cwebp('one-lossless.webp', { width: 1, height: 1, lossless: true, hasAlpha: false }, '-lossless', f('one.png'));
  cwebp('wide.webp', { width: 16383, height: 1, lossless: false, hasAlpha: false }, f('wide.png'));
  cwebp('tall-alpha.webp', { width: 1, height: 16383, lossless: false, hasAlpha: true }, f('tall.png'));
  cwebp('tall-lossless.webp', { width: 1, height: 16383, lossless: true, hasAlpha: true }, '-lossless', f('tall.png'));
  cwebp('exif.webp', undefined, '-metadata', 'exif', f('o6.jpg'));
  writeFileSync(f('x.xmp'), '<x:xmpmeta xmlns:x="adobe:ns:meta/"/>');
  const { icc } = await sharp(await raw(8, 8, 3).withIccProfile('p3').jpeg().toBuffer()).metadata();
  writeFileSync(f('p.icc'), icc!);
  make('xmp.webp', undefined, 'webpmux', ['-set', 'xmp', f('x.xmp'), f('lossy.webp'), '-o', f('xmp.webp')]);
  make('icc.webp', undefined, 'webpmux', ['-set', 'icc', f('p.icc'), f('lossy.webp'), '-o', f('icc.webp')]);
  await raw(333, 77, 3).negate().png().toFile(f('rgb2.png'));
  make('anim.webp', undefined, 'img2webp', ['-loop', '0', f('rgb.png'), f('rgb2.png'), '-o', f('anim.webp')]);
  make('anim-lossy.webp', undefined, 'img2webp', ['-lossy', f('rgb.png'), f('rgb2.png'), '-o', f('anim-lossy.webp')]);
  // One frame: img2webp writes it as a plain VP8L file.
  make('anim-1.webp', { ...rgb, lossless: true }, 'img2webp', [f('rgb.png'), '-o', f('anim-1.webp')]);
  const ff = (name: string, fact: WebpHeader | undefined, ...args: string[]) =>
    make(name, fact, 'ffmpeg', ['-loglevel', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc=size=64x48:rate=5', ...args, f(name)]);
  ff('ffmpeg.webp', { width: 64, height: 48, lossless: false, hasAlpha: false }, '-frames:v', '1', '-c:v', 'libwebp');
  ff('ffmpeg-anim.webp', undefined, '-frames:v', '3', '-c:v', 'libwebp_anim', '-loop', '0');
  const bySharp = async (name: string, fact: WebpHeader | undefined, s: Sharp) => {
    named.push([name, await s.toBuffer()]);
    facts.push([name, fact]);
  };
  await bySharp('sharp lossy', { width: 40, height: 24, lossless: false, hasAlpha: false }, raw(40, 24, 3).webp());
  await bySharp('sharp lossless', { width: 40, height: 24, lossless: true, hasAlpha: false }, raw(40, 24, 3).webp({ lossless: true }));
  await bySharp('sharp lossy alpha', { width: 40, height: 24, lossless: false, hasAlpha: true }, raw(40, 24, 4).webp());
  await bySharp('sharp lossless alpha', { width: 40, height: 24, lossless: true, hasAlpha: true }, raw(40, 24, 4).webp({ lossless: true }));
  await bySharp('sharp EXIF orientation 6', undefined, raw(40, 24, 3).withMetadata({ orientation: 6 }).webp());
  await bySharp('sharp ICC', undefined, raw(40, 24, 3).withIccProfile('p3').webp());

  // Built from the chunks of a sharp-made lossy, lossy-with-alpha and lossless file.
  const lossy = payloads(named.find(([n]) => n === 'sharp lossy')![1])['VP8 ']!;
  const la = payloads(named.find(([n]) => n === 'sharp lossy alpha')![1]);
  const ll = payloads(named.find(([n]) => n === 'sharp lossless')![1]).VP8L!;
  const lla = payloads(named.find(([n]) => n === 'sharp lossless alpha')![1]).VP8L!;
  const built = (name: string, fact: WebpHeader | undefined, b: Buffer) => {
    named.push([name, b]);
    facts.push([name, fact]);
  };
  const size = { width: 40, height: 24 };
  built('VP8X 0 + VP8', { ...size, lossless: false, hasAlpha: false }, riff([vp8x(0, 40, 24), chunk('VP8 ', lossy)]));
  built('VP8X 0 + VP8L', { ...size, lossless: true, hasAlpha: false }, riff([vp8x(0, 40, 24), chunk('VP8L', ll)]));
  built('VP8X alpha + VP8L alpha', { ...size, lossless: true, hasAlpha: true }, riff([vp8x(0x10, 40, 24), chunk('VP8L', lla)]));
  // The VP8X alpha flag decides for libvips (measured: 4 bands without ALPH, 3 with ALPH but no flag);
  // a frame that disagrees with it is left to libvips, as are ALPH with VP8L (an error there) and the rest.
  built('VP8X alpha + VP8 without ALPH', undefined, riff([vp8x(0x10, 40, 24), chunk('VP8 ', lossy)]));
  built('VP8X 0 + ALPH + VP8', undefined, riff([vp8x(0, 40, 24), chunk('ALPH', la.ALPH!), chunk('VP8 ', la['VP8 ']!)]));
  built('VP8X 0 + VP8L alpha', undefined, riff([vp8x(0, 40, 24), chunk('VP8L', lla)]));
  built('VP8X alpha + VP8L opaque', undefined, riff([vp8x(0x10, 40, 24), chunk('VP8L', ll)]));
  built('VP8X alpha + ALPH + VP8L', undefined, riff([vp8x(0x10, 40, 24), chunk('ALPH', la.ALPH!), chunk('VP8L', lla)]));
  built('VP8X canvas wider', undefined, riff([vp8x(0, 41, 24), chunk('VP8 ', lossy)]));
  built('VP8X EXIF flag alone', undefined, riff([vp8x(0x08, 40, 24), chunk('VP8 ', lossy)]));
  built('VP8X animation flag alone', undefined, riff([vp8x(0x02, 40, 24), chunk('VP8 ', lossy)]));
  built('VP8X reserved bit', undefined, riff([vp8x(0x01, 40, 24), chunk('VP8 ', lossy)]));
  built('VP8X unknown chunk', undefined, riff([vp8x(0, 40, 24), chunk('VP8 ', lossy), chunk('ABCD', Buffer.alloc(4))]));
  built('simple + unknown chunk', undefined, riff([chunk('VP8 ', lossy), chunk('ABCD', Buffer.alloc(4))]));
  built('simple + trailing bytes', undefined, Buffer.concat([riff([chunk('VP8 ', lossy)]), Buffer.alloc(6)]));
  built('RIFF size too big', undefined, riff([chunk('VP8 ', lossy)], 10));
  built('ALPH before a simple VP8', undefined, riff([chunk('ALPH', la.ALPH!), chunk('VP8 ', la['VP8 ']!)]));
  built('two VP8', undefined, riff([chunk('VP8 ', lossy), chunk('VP8 ', lossy)]));
  built('VP8 odd length, padded', { ...size, lossless: false, hasAlpha: false }, riff([chunk('VP8 ', Buffer.concat([lossy, Buffer.alloc(lossy.length & 1 ? 0 : 1)]))]));
  // The two top bits of each VP8 size are upscaling hints that libwebp ignores.
  const scaled = Buffer.from(lossy);
  scaled[7]! |= 0xc0;
  scaled[9]! |= 0x40;
  built('VP8 scale bits', { ...size, lossless: false, hasAlpha: false }, riff([chunk('VP8 ', scaled)]));
  // A VP8L header can say 16384 (14 bits of size minus one); libvips refuses more than 16383.
  const vp8lSized = (width: number, height: number) => {
    const b = Buffer.from(ll);
    b.writeUInt32LE((b.readUInt32LE(1) & ~0xfffffff) | (width - 1) | ((height - 1) << 14), 1);
    return riff([chunk('VP8L', b)]);
  };
  built('VP8L 16383 x 16383', { width: 16383, height: 16383, lossless: true, hasAlpha: false }, vp8lSized(16383, 16383));
  built('VP8L 16384 wide', undefined, vp8lSized(16384, 24));
  built('VP8L 16384 high', undefined, vp8lSized(40, 16384));
  const version1 = Buffer.from(ll);
  version1[4]! |= 0x20;
  built('VP8L version 1', undefined, riff([chunk('VP8L', version1)]));
  // A big lossy file: its header is read from the first bytes, the file size coming from the caller.
  const noise = Buffer.alloc(1024 * 768 * 3);
  const random = prng(7);
  for (let i = 0; i < noise.length; i++) noise[i] = Math.floor(random() * 256);
  await sharp(noise, { raw: { width: 1024, height: 768, channels: 3 } }).webp({ quality: 100 }).toFile(f('big.webp'));
  named.push(['big.webp', readFileSync(f('big.webp'))]);
  facts.push(['big.webp', { width: 1024, height: 768, lossless: false, hasAlpha: false }]);
}, 60_000);

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Where the JS reader answers, libvips must agree. */
const agree = (cases: [string, Buffer][]) =>
  agreeWithSharp(cases, (bytes) => {
    const h = webpHeader(bytes);
    return h ? webpMetadata(h) : undefined;
  });

describe('WebP header read in JS equals libvips', () => {
  it('what each file is, from how it was made', () => {
    const byName = new Map(named);
    for (const [name, fact] of facts) expect(webpHeader(byName.get(name)!), name).toEqual(fact);
    // The plain lossy, lossless and alpha cases are answered (so the comparisons below are not vacuous).
    for (const name of ['sharp lossy', 'sharp lossless', 'sharp lossy alpha', 'sharp lossless alpha']) expect(webpHeader(byName.get(name)!), name).toBeDefined();
  });

  it('fixtures, made files and built files', async () => {
    const { answered, mismatches } = await agree(named);
    expect(mismatches).toEqual([]);
    expect(answered).toBe(facts.filter(([, fact]) => fact).length);
  });

  it('through readWithSharp: the same ImageInfo as the libvips path, from the first bytes of a big file', async () => {
    const big = named.find(([n]) => n === 'big.webp')![1];
    expect(big.length).toBeGreaterThan(256 * 1024);
    const head = big.subarray(0, 64);
    expect(webpHeader(head, big.length)).toEqual(webpHeader(big));
    expect(webpHeader(head)).toBeUndefined();
    expect(webpHeader(big.subarray(0, 20), big.length)).toBeUndefined();
    // One the reader answers for, one with alpha, one it leaves to libvips (EXIF orientation).
    for (const name of ['big.webp', 'sharp lossy alpha', 'sharp EXIF orientation 6']) {
      const file = path.join(dir, `${name}.webp`);
      writeFileSync(file, named.find(([n]) => n === name)![1]);
      expect(await readWithSharp(file), name).toEqual(imageInfoOf(await sharpMetadata(file)));
    }
    expect(await readWithSharp(path.join(dir, 'sharp EXIF orientation 6.webp'))).toMatchObject({ orientation: 6, width: 40, height: 24 });
  });

  it('every cut', async () => {
    const cases: [string, Buffer][] = [];
    for (const [name, bytes] of named) {
      for (let n = 0; n < Math.min(bytes.length, 96); n++) cases.push([`${name} cut at ${n}`, bytes.subarray(0, n)]);
      cases.push([`${name} less its last byte`, bytes.subarray(0, bytes.length - 1)]);
    }
    const { mismatches } = await agree(cases);
    expect(mismatches).toEqual([]);
  });

  it('seeded random mutations of the first 64 bytes', async () => {
    const random = prng(Number(process.env.WEBP_MUTATION_SEED ?? 20260415));
    const cases: [string, Buffer][] = [];
    for (const [name, bytes] of named) {
      for (let i = 0; i < 100; i++) {
        const copy = Buffer.from(bytes);
        const at: number[] = [];
        for (let f = 1 + Math.floor(random() * 2); f > 0; f--) {
          const p = Math.floor(random() * Math.min(64, copy.length));
          const kind = random();
          copy[p] = kind < 0.5 ? copy[p]! ^ (1 << Math.floor(random() * 8)) : kind < 0.6 ? 0 : Math.floor(random() * 256);
          at.push(p);
        }
        // Half the mutants get their RIFF size set to the file's, so the chunks themselves are put to libvips.
        const fixed = random() < 0.5 && copy.length >= 8;
        if (fixed) copy.writeUInt32LE(copy.length - 8, 4);
        cases.push([`${name} mutated at ${at.join(',')}${fixed ? ', RIFF size fixed' : ''}`, copy]);
      }
    }
    expect(cases.length).toBeGreaterThan(3000);
    const { answered, mismatches } = await agree(cases);
    expect(mismatches).toEqual([]);
    if (process.env.WEBP_MUTATION_LOG) console.log(`${cases.length} mutants, ${answered} answered`);
    expect(answered).toBeGreaterThan(500);
  }, 60_000);
});
