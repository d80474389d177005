/**
 * image-sharp.ts reads small files from memory rather than from their path (libvips' loader search is
 * cheaper on a buffer). That is only allowed because both give the same metadata: this differential test
 * compares sharp's full metadata() from the path and from the bytes, over every fixture libvips reads,
 * variants sharp writes here (progressive, grey, CMYK, palette, 16-bit, alpha, EXIF orientation,
 * animation, pages, AVIF, HEIF) and copies of all of them cut short. The pass/fail verdict must match
 * too; readWithSharp then falls back to the path read on any buffer failure, and that is checked apart.
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp, { type Metadata, type Sharp } from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { detect } from '../../src/detect/detect.js';
import { jpegHeader } from '../../src/extractors/image-jpeg-header.js';
import { headerHeadBytes, imageInfoOf, readWithSharp, sharpExts, sharpMetadata, sharpOptions } from '../../src/extractors/image-sharp.js';
import { fixturesDir } from '../helpers/fixtures.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'image-sharp-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

type Outcome = { ok: true; meta: Omit<Metadata, 'size'> } | { ok: false };

/** metadata() of one input; `size` is left out: sharp sets it for buffer inputs only. */
async function outcome(input: string | Buffer): Promise<Outcome> {
  try {
    const { size: _size, ...meta } = await sharp(input, sharpOptions).metadata();
    return { ok: true, meta };
  } catch {
    return { ok: false };
  }
}

/** A 48x32 RGBA gradient with a see-through corner, as raw pixels for sharp to encode; `pageHeight` 8 makes four pages. */
function base(pageHeight?: number): Sharp {
  const width = 48;
  const height = 32;
  const px = Buffer.alloc(width * height * 4);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 4;
      px[i] = x * 5;
      px[i + 1] = y * 7;
      px[i + 2] = (x * y) % 256;
      px[i + 3] = x < 8 && y < 8 ? 0 : 255;
    }
  }
  return sharp(px, { raw: { width, height, channels: 4, ...(pageHeight ? { pageHeight } : {}) } });
}

/** Variants written with sharp: each a different header path in libvips' loaders. */
async function variants(): Promise<string[]> {
  const out: [string, Promise<Buffer>][] = [
    ['baseline.jpg', base().flatten().jpeg().toBuffer()],
    ['progressive.jpg', base().flatten().jpeg({ progressive: true }).toBuffer()],
    ['grey.jpg', base().flatten().toColourspace('b-w').jpeg().toBuffer()],
    ['cmyk.jpg', base().flatten().toColourspace('cmyk').jpeg().toBuffer()],
    ['orient-6.jpg', base().flatten().jpeg().withMetadata({ orientation: 6 }).toBuffer()],
    ['icc.jpg', base().flatten().jpeg().withIccProfile('p3').toBuffer()],
    ['rgba.png', base().png().toBuffer()],
    ['rgb.png', base().flatten().png().toBuffer()],
    ['palette.png', base().png({ palette: true, colours: 16 }).toBuffer()],
    ['grey-16.png', base().flatten().greyscale().toColourspace('grey16').png().toBuffer()],
    ['rgb-16.png', base().toColourspace('rgb16').png().toBuffer()],
    ['orient-3.png', base().png().withMetadata({ orientation: 3 }).toBuffer()],
    ['lossy.webp', base().webp().toBuffer()],
    ['lossless.webp', base().webp({ lossless: true }).toBuffer()],
    ['opaque.webp', base().flatten().webp().toBuffer()],
    ['still.gif', base().gif().toBuffer()],
    ['anim-4.gif', base(8).gif({ loop: 0 }).toBuffer()],
    ['anim-4.webp', base(8).webp({ loop: 0 }).toBuffer()],
    ['pages-4.tif', base(8).tiff({ compression: 'lzw' }).toBuffer()],
    ['rgb.tif', base().flatten().tiff().toBuffer()],
    ['rgb.avif', base().avif({ quality: 40 }).toBuffer()],
    ['rgb.heif', base().heif({ compression: 'av1', quality: 40 }).toBuffer()],
  ];
  const files: string[] = [];
  for (const [name, data] of out) {
    const file = path.join(dir, name);
    writeFileSync(file, await data);
    files.push(file);
  }
  return files;
}

let files: string[] = [];

beforeAll(async () => {
  const fixtures: string[] = [];
  const imageDir = path.join(fixturesDir, 'image');
  for (const name of readdirSync(imageDir).filter((n) => !n.endsWith('.json'))) {
    const file = path.join(imageDir, name);
    const detected = await detect(file).catch(() => null);
    if (detected && sharpExts.has(detected.ext)) fixtures.push(file);
  }
  const whole = [...fixtures, ...(await variants())];
  // Cut copies: the verdict (ok or not) and whatever metadata libvips still finds must match too.
  const cut: string[] = [];
  for (const file of whole) {
    const bytes = readFileSync(file);
    for (const share of [0.1, 0.5, 0.9]) {
      const copy = path.join(dir, `cut-${share}-${path.basename(file)}`);
      writeFileSync(copy, bytes.subarray(0, Math.floor(bytes.length * share)));
      cut.push(copy);
    }
    const lastByte = path.join(dir, `cut-last-${path.basename(file)}`);
    writeFileSync(lastByte, bytes.subarray(0, bytes.length - 1));
    cut.push(lastByte);
  }
  files = [...whole, ...cut];
}, 60_000);

describe('sharp metadata from the bytes equals metadata from the path', () => {
  it('covers the fixtures, the variants and their cut copies', () => {
    expect(files.length).toBeGreaterThan(100);
  });

  it('every file: same verdict, same metadata', async () => {
    const differences: string[] = [];
    for (const file of files) {
      const [fromPath, fromBytes] = [await outcome(file), await outcome(readFileSync(file))];
      try {
        expect(fromBytes).toEqual(fromPath);
      } catch {
        differences.push(path.basename(file));
      }
    }
    expect(differences).toEqual([]);
  });

  it('readWithSharp gives what the path read gives, and fails where it fails', async () => {
    for (const file of files) {
      const fromPath = await sharp(file, sharpOptions)
        .metadata()
        .then((m) => ({ ok: true as const, info: imageInfoOf(m) }))
        .catch((err: unknown) => ({ ok: false as const, message: (err as Error).message }));
      const ours = await readWithSharp(file)
        .then((info) => ({ ok: true as const, info }))
        .catch((err: unknown) => ({ ok: false as const, message: (err as Error).message }));
      expect(ours, path.basename(file)).toEqual(fromPath);
    }
  });
});

describe('readWithSharp head read', () => {
  it('a JPEG whose header outgrows the head read (five 60 KB COM segments) is read by libvips, to the same result', async () => {
    const jpeg = await base().flatten().jpeg().withMetadata({ orientation: 8 }).toBuffer();
    const com = Buffer.alloc(4 + 60_000, 0x41);
    com.writeUInt16BE(0xfffe, 0);
    com.writeUInt16BE(60_002, 2);
    const big = Buffer.concat([jpeg.subarray(0, 2), com, com, com, com, com, jpeg.subarray(2)]);
    expect(big.length).toBeGreaterThan(headerHeadBytes);
    // The head alone holds no SOS, so the JS reader declines and libvips reads the whole file.
    expect(jpegHeader(big.subarray(0, headerHeadBytes))).toBeNull();
    expect(jpegHeader(big)).not.toBeNull();
    const file = path.join(dir, 'big-header.jpg');
    writeFileSync(file, big);
    const expected = imageInfoOf(await sharp(file, sharpOptions).metadata());
    expect(expected).toMatchObject({ width: 48, height: 32, orientation: 8, displayWidth: 32, displayHeight: 48 });
    expect(await readWithSharp(file)).toEqual(expected);
  });
});

describe('sharpMetadata', () => {
  it('an empty file fails as the path read does', async () => {
    const file = path.join(dir, 'empty.png');
    writeFileSync(file, '');
    const expected = await sharp(file, sharpOptions).metadata().catch((err: Error) => err.message);
    await expect(sharpMetadata(file)).rejects.toThrow(String(expected));
  });
});
