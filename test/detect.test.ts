/**
 * Detection corner cases as one table: bytes in, data type (or UNSUPPORTED_TYPE) out. The name of a file
 * never matters, so the cases are buffers.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { detect, detectBuffer } from '../src/detect/detect.js';
import { UnsupportedTypeError } from '../src/errors.js';
import { probeFile } from '../src/probe.js';
import { compareExpected, type Expected } from '../src/replay/compare.js';
import { fixturesDir, testExtractConfig } from './helpers/fixtures.js';

const utf16le = (s: string) => Buffer.from(s, 'utf16le');
const utf16be = (s: string) => Buffer.from(s, 'utf16le').swap16();
const pseudoRandom = (n: number) => {
  const out = Buffer.alloc(n);
  let x = 12345;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
};

/** A DTS core frame of `bytes` bytes: sync word, header bits with FSIZE = bytes - 1, then filler. */
const dtsFrame = (bytes: number) => {
  const frame = Buffer.alloc(bytes, 0x55);
  frame.writeUInt32BE(0x7ffe8001, 0);
  // FTYPE 1, SHORT 31, CPF 0, NBLKS 15 (14 bits), then FSIZE (14 bits) and 4 bits of AMODE.
  frame.writeUInt32BE(((1 << 31) | (31 << 26) | (15 << 18) | ((bytes - 1) << 4)) >>> 0, 4);
  return frame;
};

type Case = [name: string, bytes: Buffer, expected: { dataType: string; mimeType?: string } | 'UNSUPPORTED_TYPE'];

const cases: Case[] = [
  ['empty file', Buffer.alloc(0), 'UNSUPPORTED_TYPE'],
  ['pseudo-random binary', pseudoRandom(4096), 'UNSUPPORTED_TYPE'],
  ['zeros', Buffer.alloc(1024), 'UNSUPPORTED_TYPE'],
  ['ZIP archive', Buffer.from('504b0304140000000800', 'hex'), 'UNSUPPORTED_TYPE'],
  ['ASCII', Buffer.from('hello world\n'), { dataType: 'text', mimeType: 'text/plain' }],
  ['UTF-8 with BOM', Buffer.from('\ufeffcafé\n'), { dataType: 'text', mimeType: 'text/plain' }],
  ['UTF-16LE with BOM (FF FE is also an MPEG audio sync)', Buffer.concat([Buffer.from([0xff, 0xfe]), utf16le('Grüße\n')]), { dataType: 'text' }],
  ['UTF-16BE with BOM', Buffer.concat([Buffer.from([0xfe, 0xff]), utf16be('hello\n')]), { dataType: 'text' }],
  ['UTF-16LE without BOM', utf16le('id,name\n1,Ann\n2,Bob\n'), { dataType: 'text' }],
  ['UTF-16BE without BOM', utf16be('just some words here\n'), { dataType: 'text' }],
  ['windows-1252 bytes', Buffer.from('caf\xe9 \x80 na\xefve\r\n', 'latin1'), { dataType: 'text' }],
  ['HLS playlist', Buffer.from('#EXTM3U\n#EXT-X-VERSION:3\n#EXTINF:10,\nseg0.ts\n'), { dataType: 'text', mimeType: 'application/vnd.apple.mpegurl' }],
  ['SVG', Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="1" height="1"/>'), { dataType: 'image', mimeType: 'image/svg+xml' }],
  ['SVG after XML prolog, comment and DOCTYPE', Buffer.from('<?xml version="1.0"?>\n<!-- c -->\n<!DOCTYPE svg [<!ENTITY a "b">]>\n<svg width="1" height="1"/>'), { dataType: 'image', mimeType: 'image/svg+xml' }],
  ['SVG in UTF-16LE with BOM', Buffer.concat([Buffer.from([0xff, 0xfe]), utf16le('<svg width="1" height="1"/>')]), { dataType: 'image', mimeType: 'image/svg+xml' }],
  ['other XML is text', Buffer.from('<?xml version="1.0"?>\n<note><to>x</to></note>\n'), { dataType: 'text', mimeType: 'application/xml' }],
  ['JSON', Buffer.from('{"a": [1, 2]}'), { dataType: 'text' }],
  ['PNG signature', Buffer.from('89504e470d0a1a0a0000000d4948445200000001000000010806000000', 'hex'), { dataType: 'image', mimeType: 'image/png' }],
  // A TIFF header whose first IFD lies past the bytes at hand (the pixels come first): still a TIFF.
  ['big-endian TIFF, IFD past the head', Buffer.concat([Buffer.from('4d4d002a00100000', 'hex'), Buffer.alloc(64, 0x80)]), { dataType: 'image', mimeType: 'image/tiff' }],
  ['little-endian TIFF, IFD past the head', Buffer.concat([Buffer.from('49492a0000001000', 'hex'), Buffer.alloc(64, 0x80)]), { dataType: 'image', mimeType: 'image/tiff' }],
  ['MM with an unknown version is not a TIFF', Buffer.concat([Buffer.from('4d4d002c00100000', 'hex'), Buffer.alloc(64, 1)]), 'UNSUPPORTED_TYPE'],
  // Raw DTS: the core sync word 7FFE8001, FSIZE (here 1023: frames of 1024 bytes), the next frame's sync.
  ['raw DTS, two frames', Buffer.concat([dtsFrame(1024), dtsFrame(1024)]), { dataType: 'audio', mimeType: 'audio/vnd.dts' }],
  ['a DTS sync word with no second frame where its size says', Buffer.concat([dtsFrame(1024), Buffer.alloc(1024, 1)]), 'UNSUPPORTED_TYPE'],
  ['a DTS sync word with a frame size under 96 bytes', Buffer.concat([dtsFrame(64), dtsFrame(64), Buffer.alloc(256, 1)]), 'UNSUPPORTED_TYPE'],
  // Readers look for the PDF header in the first 1024 bytes; file-type only at byte 0.
  ['PDF after a mail header', Buffer.from('Content-Type: application/pdf\r\n\r\n%PDF-1.7\n1 0 obj\n'), { dataType: 'pdf', mimeType: 'application/pdf' }],
  ['PDF after 1000 binary bytes', Buffer.concat([Buffer.alloc(1000, 0), Buffer.from('%PDF-1.4\n%\xe2\xe3\n', 'latin1')]), { dataType: 'pdf' }],
  ['PDF header past 1024 bytes is not a PDF', Buffer.concat([Buffer.alloc(1030, 0), Buffer.from('%PDF-1.4\n')]), 'UNSUPPORTED_TYPE'],
  ['text quoting %PDF-1.4 mid-line stays text', Buffer.from('The file starts with %PDF-1.4 as usual.\n'), { dataType: 'text', mimeType: 'text/plain' }],
  ['text with a binary control byte run', Buffer.concat([Buffer.from('abc'), Buffer.from([1, 2, 3, 4, 5, 6])]), 'UNSUPPORTED_TYPE'],
];

describe('detectBuffer', () => {
  it.each(cases)('%s', async (_name, bytes, expected) => {
    if (expected === 'UNSUPPORTED_TYPE') {
      await expect(detectBuffer(bytes)).rejects.toBeInstanceOf(UnsupportedTypeError);
      return;
    }
    const detected = await detectBuffer(bytes);
    expect(detected.dataType).toBe(expected.dataType);
    if (expected.mimeType) expect(detected.mimeType).toBe(expected.mimeType);
  });
});

describe('detect(path)', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'detect-test-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('decides by the bytes, not the name: text named .jpg is text, a PNG named .txt is an image', async () => {
    writeFileSync(path.join(dir, 'photo.jpg'), 'not a photo\n');
    writeFileSync(path.join(dir, 'notes.txt'), Buffer.from('89504e470d0a1a0a0000000d4948445200000001000000010806000000', 'hex'));
    expect((await detect(path.join(dir, 'photo.jpg'))).dataType).toBe('text');
    expect((await detect(path.join(dir, 'notes.txt'))).mimeType).toBe('image/png');
  });
});

describe('DICOM whose preamble holds another format’s magic', () => {
  const fixture = path.join(fixturesDir, 'dicom/explicit-le.dcm');
  const expected = JSON.parse(readFileSync(`${fixture}.expected.json`, 'utf8')) as Expected;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'detect-dicom-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  // Dual-personality DICOM/TIFF files: a TIFF header (first IFD at byte 8) over the preamble, "DICM" still at 128.
  it.each([['II', '49492a0008000000'], ['MM', '4d4d002a00000008']])('a TIFF header (%s) at byte 0: the fixture’s result', async (order, tiff) => {
    const bytes = Buffer.from(readFileSync(fixture));
    Buffer.from(tiff, 'hex').copy(bytes, 0);
    const file = path.join(dir, `tiff-preamble-${order}.dcm`);
    writeFileSync(file, bytes);
    expect(await detect(file)).toEqual({ dataType: 'dicom', mimeType: 'application/dicom', ext: 'dcm' });
    expect(compareExpected(expected, await probeFile(file, testExtractConfig()))).toEqual([]);
  });
});
