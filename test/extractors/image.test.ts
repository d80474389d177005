/**
 * The image extractor beyond the fixture table: truncation checks, trailers after EOI, SVG lengths,
 * header-only cost on pixel bombs, and header throughput.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { detect } from '../../src/detect/detect.js';
import { CorruptAssetError, UnsupportedTypeError } from '../../src/errors.js';
import { extractImage } from '../../src/extractors/image/image.js';
import { apngFrameCount } from '../../src/extractors/image/sharp.js';
import { heifRotation } from '../../src/extractors/image/heif.js';
import { jpegTruncation } from '../../src/extractors/image/jpeg-end.js';
import { svgLength, svgSize } from '../../src/extractors/image/svg.js';
import { fixturesDir, testExtractConfig } from '../helpers/fixtures.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'image-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const fixture = (name: string) => path.join(fixturesDir, 'image', name);

async function extract(file: string) {
  const detected = await detect(file);
  return extractImage({ ...detected, path: file, sizeBytes: readFileSync(file).length }, testExtractConfig());
}

describe('JPEG completeness', () => {
  const whole = readFileSync(fixture('jpeg-orient-1.jpg'));

  it('a complete JPEG passes', async () => {
    expect(await jpegTruncation(fixture('jpeg-orient-1.jpg'))).toBeNull();
  });

  it.each([0.3, 0.6, 0.9])('cut at %d of its length is CORRUPT_ASSET', async (share) => {
    const file = path.join(dir, `cut-${share}.jpg`);
    writeFileSync(file, whole.subarray(0, Math.floor(whole.length * share)));
    await expect(extract(file)).rejects.toBeInstanceOf(CorruptAssetError);
  });

  it('cut right before the last byte (FF of EOI kept, D9 lost) is CORRUPT_ASSET', async () => {
    const file = path.join(dir, 'cut-last.jpg');
    writeFileSync(file, whole.subarray(0, whole.length - 1));
    expect(await jpegTruncation(file)).toMatch(/truncated/);
  });

  it('a trailer after EOI (a motion photo appends an MP4) is not truncation', async () => {
    const file = path.join(dir, 'trailer.jpg');
    writeFileSync(file, Buffer.concat([whole, Buffer.from('\0\0\0\x18ftypmp42'), Buffer.alloc(300 * 1024, 7)]));
    const out = await extract(file);
    expect(out.section).toMatchObject({ format: 'jpeg', width: 4, height: 2 });
  });

  it('zero padding after EOI is tolerated', async () => {
    const file = path.join(dir, 'padded.jpg');
    writeFileSync(file, Buffer.concat([whole, Buffer.alloc(16)]));
    expect(await jpegTruncation(file)).toBeNull();
  });
});

describe('other readers', () => {
  it('a BMP cut inside its header is CORRUPT_ASSET', async () => {
    const file = path.join(dir, 'cut.bmp');
    writeFileSync(file, readFileSync(fixture('bmp-24bit.bmp')).subarray(0, 20));
    await expect(extract(file)).rejects.toBeInstanceOf(CorruptAssetError);
  });

  it('an image format with no reader is UNSUPPORTED_TYPE, not a guess', async () => {
    await expect(
      extractImage({ dataType: 'image', mimeType: 'image/x-xcf', ext: 'xcf', path: fixture('png-alpha.png'), sizeBytes: 78 }, testExtractConfig()),
    ).rejects.toBeInstanceOf(UnsupportedTypeError);
  });

  it('an SVG without a root element in its head is CORRUPT_ASSET', async () => {
    const file = path.join(dir, 'broken.svg');
    writeFileSync(file, '<svg width="1" height="1"');
    await expect(
      extractImage({ dataType: 'image', mimeType: 'image/svg+xml', ext: 'svg', path: file, sizeBytes: 25 }, testExtractConfig()),
    ).rejects.toBeInstanceOf(CorruptAssetError);
  });
});

/**
 * An uncompressed 8-bit grayscale TIFF laid out as scanners and ImageMagick write it: header, pixel strip,
 * then the IFD. TIFF 6.0 §2 entries: tag, type (3 SHORT, 4 LONG), count 1, value left-aligned in 4 bytes.
 */
function grayTiff(width: number, height: number, bigEndian: boolean): Buffer {
  const pixels = width * height;
  const tags: [tag: number, type: 3 | 4, value: number][] = [
    [256, 3, width], [257, 3, height], [258, 3, 8], [259, 3, 1], [262, 3, 1],
    [273, 4, 8], [277, 3, 1], [278, 3, height], [279, 4, pixels],
  ];
  const ifd = Buffer.alloc(2 + tags.length * 12 + 4);
  const u16 = (v: number, at: number) => (bigEndian ? ifd.writeUInt16BE(v, at) : ifd.writeUInt16LE(v, at));
  const u32 = (v: number, at: number) => (bigEndian ? ifd.writeUInt32BE(v, at) : ifd.writeUInt32LE(v, at));
  u16(tags.length, 0);
  tags.forEach(([tag, type, value], i) => {
    const at = 2 + i * 12;
    u16(tag, at);
    u16(type, at + 2);
    u32(1, at + 4);
    if (type === 3) u16(value, at + 8);
    else u32(value, at + 8);
  });
  const header = Buffer.alloc(8);
  header.write(bigEndian ? 'MM' : 'II', 0, 'latin1');
  if (bigEndian) header.writeUInt16BE(42, 2), header.writeUInt32BE(8 + pixels, 4);
  else header.writeUInt16LE(42, 2), header.writeUInt32LE(8 + pixels, 4);
  return Buffer.concat([header, Buffer.alloc(pixels, 0x80), ifd]);
}

describe('TIFF with its IFD after the pixels', () => {
  // 300 x 250 one-byte pixels = 75,000 bytes: the IFD starts past the 64 KiB detection head.
  it.each([['big-endian (MM)', true], ['little-endian (II)', false]] as const)('%s, IFD past the head', async (_name, bigEndian) => {
    const file = path.join(dir, `ifd-last-${bigEndian ? 'mm' : 'ii'}.tif`);
    writeFileSync(file, grayTiff(300, 250, bigEndian));
    const out = await extract(file);
    expect(out.mimeType).toBe('image/tiff');
    expect(out.section).toMatchObject({ format: 'tiff', width: 300, height: 250, channels: 1, bitsPerSample: 8, frames: 1 });
  });

  it('a small big-endian TIFF (IFD inside the head) reads the same way', async () => {
    const file = path.join(dir, 'small-mm.tif');
    writeFileSync(file, grayTiff(6, 4, true));
    expect((await extract(file)).section).toMatchObject({ format: 'tiff', width: 6, height: 4, channels: 1 });
  });

  it('a TIFF header with nothing after it is CORRUPT_ASSET, not a crash', async () => {
    const file = path.join(dir, 'header-only.tif');
    writeFileSync(file, grayTiff(300, 250, true).subarray(0, 70_000));
    await expect(extract(file)).rejects.toBeInstanceOf(CorruptAssetError);
  });
});

describe('APNG frame count (acTL before the first IDAT)', () => {
  const chunk = (type: string, data: Buffer) => {
    const head = Buffer.alloc(8);
    head.writeUInt32BE(data.length, 0);
    head.write(type, 4, 'latin1');
    return Buffer.concat([head, data, Buffer.alloc(4)]); // the CRC is not what this reads
  };
  const u32s = (...v: number[]) => Buffer.concat(v.map((n) => Buffer.from([n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255])));
  const png = (...chunks: Buffer[]) => Buffer.concat([Buffer.from('89504e470d0a1a0a', 'hex'), ...chunks]);
  const ihdr = chunk('IHDR', Buffer.concat([u32s(8, 6), Buffer.from([8, 2, 0, 0, 0])]));

  it.each([
    ['acTL after IHDR', png(ihdr, chunk('acTL', u32s(7, 0)), chunk('IDAT', Buffer.alloc(3))), 7],
    ['acTL after a large chunk', png(ihdr, chunk('iCCP', Buffer.alloc(3000)), chunk('acTL', u32s(300, 1)), chunk('IDAT', Buffer.alloc(3))), 300],
    ['still PNG', png(ihdr, chunk('IDAT', Buffer.alloc(3))), undefined],
    ['acTL after IDAT does not count', png(ihdr, chunk('IDAT', Buffer.alloc(3)), chunk('acTL', u32s(7, 0))), undefined],
    ['acTL of the wrong length', png(ihdr, chunk('acTL', u32s(7)), chunk('IDAT', Buffer.alloc(3))), undefined],
    ['acTL with 0 frames', png(ihdr, chunk('acTL', u32s(0, 0)), chunk('IDAT', Buffer.alloc(3))), undefined],
    ['cut inside acTL', png(ihdr, chunk('acTL', u32s(7, 0))).subarray(0, 8 + 25 + 12), undefined],
  ] as const)('%s', (_name, bytes, frames) => {
    expect(apngFrameCount(bytes)).toBe(frames);
  });
});

describe('SVG lengths (CSS Values 4 absolute units)', () => {
  it.each([
    ['10', 10], ['10px', 10], ['1in', 96], ['2.54cm', 96], ['25.4mm', 96], ['72pt', 96], ['6pc', 96],
    ['101.6q', 96], ['1e2', 100], ['50%', null], ['auto', null], ['-5', null], ['0', null], ['12furlongs', null],
  ] as const)('%s → %s', (value, px) => {
    const got = svgLength(value);
    if (px === null) expect(got).toBeNull();
    else expect(got).toBeCloseTo(px, 9);
  });

  it.each([
    ['<svg width="30" height="20" viewBox="0 0 1 1">', 30, 20],
    ['<svg height="50" viewBox="0 0 200 100">', 100, 50],
    ['<svg width="auto" height="auto" viewBox="0 0 7 9">', 7, 9],
    ['<svg>', 300, 150],
    ['<!-- <svg width="1" height="1"> --><svg title="a>b" width="8" height="4">', 8, 4],
  ] as const)('%s → %dx%d', (text, width, height) => {
    expect(svgSize(text)).toEqual({ width, height });
  });
});

describe('header-only cost', () => {
  it.each(['png-bomb-20000.png', 'jpeg-bomb-65500.jpg'])('%s: size at no memory cost', async (name) => {
    const before = process.memoryUsage().rss;
    const out = await extract(fixture(name));
    expect(out.dataType === 'image' && out.section.width).toBeGreaterThanOrEqual(20_000);
    // A decode needs 400 MB (PNG) or 4.3 GB (JPEG); a header read needs next to nothing.
    expect(process.memoryUsage().rss - before).toBeLessThan(64 * 1024 * 1024);
  });
});

describe('HEIF family: sequences and primary items', () => {
  it('an AVIF sequence cut after its header boxes is a coded error, not a crash', async () => {
    const file = path.join(dir, 'avis-cut.avif');
    writeFileSync(file, readFileSync(fixture('avif-sequence-5.avif')).subarray(0, 400));
    await expect(extract(file)).rejects.toMatchObject({ code: expect.stringMatching(/^(CORRUPT_ASSET|UNSUPPORTED_TYPE)$/) });
  });

  it('the major brand is rewritten in a copy only: the file keeps its bytes', async () => {
    const before = readFileSync(fixture('avif-sequence-5.avif'));
    await extract(fixture('avif-sequence-5.avif'));
    expect(readFileSync(fixture('avif-sequence-5.avif')).equals(before)).toBe(true);
    expect(before.toString('latin1', 8, 12)).toBe('avis');
  });
});

describe('HEIF rotation (irot on the primary item)', () => {
  const phone = readFileSync(fixture('heic-irot-orient-6.heic'));
  const irotAt = phone.indexOf('irot', 0, 'latin1');

  it.each([[0, 1], [1, 8], [2, 3], [3, 6]] as const)('%d anti-clockwise quarter turns: EXIF orientation %d, stored 64x48', (turns, orientation) => {
    const copy = Buffer.from(phone);
    copy[irotAt + 4] = turns;
    expect(heifRotation(copy)).toEqual({ width: 64, height: 48, orientation });
  });

  it('a mirror as well (imir) is left to libheif', () => {
    const copy = Buffer.from(phone);
    copy.write('imir', irotAt, 'latin1');
    expect(heifRotation(copy)).toBeUndefined();
  });

  it('cut anywhere: undefined or the answer, never a throw', () => {
    for (let n = 0; n < phone.length; n += 7) expect(() => heifRotation(phone.subarray(0, n))).not.toThrow();
  });

  it('a HEIC without irot keeps libvips answer', async () => {
    expect((await extract(fixture('heic-64x48.heic'))).section).toMatchObject({ width: 64, height: 48, orientation: 1 });
  });
});
