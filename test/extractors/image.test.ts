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
