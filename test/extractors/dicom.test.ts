/**
 * What the fixture table cannot show: identifiers hidden unless DICOM_INCLUDE_PHI, in results and in the
 * errors of files that fail to parse, a large file read only as far as its header, and the limits on
 * header size.
 */
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { inspect } from 'node:util';
import { inflateRawSync } from 'node:zlib';
import dicomParser from 'dicom-parser';
import { afterAll, describe, expect, it } from 'vitest';
import { element, nestedSequences, part10Header, patientModule, plantedPhi } from '../../scripts/fuzz/dicom-writer.js';
import { findLeaks } from '../../scripts/fuzz/phi-leaks.js';
import type { DicomInfo } from '../../src/contract.js';
import { maxErrorMessageBytes, type AssetError } from '../../src/errors.js';
import { extractDicom } from '../../src/extractors/dicom/dicom.js';
import { planDicom } from '../../src/extractors/dicom/plan-dicom.js';
import { readDicomHeader } from '../../src/extractors/dicom/reader.js';
import { identifyingTags } from '../../src/extractors/dicom/tags.js';
import type { ExtractInput } from '../../src/extractors/extractor.js';
import type { RangeReader } from '../../src/extractors/range-plan.js';
import { probeFile } from '../../src/probe.js';
import { compareExpected, type Expected } from '../../src/replay/compare.js';
import { fixturesDir, testExtractConfig } from '../helpers/fixtures.js';

const tmp = mkdtempSync(path.join(tmpdir(), 'dicom-test-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function input(file: string): ExtractInput {
  return { path: file, sizeBytes: 0, dataType: 'dicom', mimeType: 'application/dicom', ext: 'dcm' };
}

/** The made-up identifiers scripts/fixtures/dicom.sh writes into every image fixture. */
const phi = {
  PatientName: 'Doe^Jane',
  PatientID: 'FAKE-0001',
  PatientBirthDate: '19700101',
  PatientSex: 'F',
  OtherPatientIDs: 'FAKE-0002',
  InstitutionName: 'Example Hospital',
  ReferringPhysicianName: 'Roe^Richard',
  AccessionNumber: 'ACC0001',
  StudyID: 'S1',
  StudyDate: '20240102',
  StudyTime: '101500',
  SeriesDescription: 'fixture series',
  Manufacturer: 'ExampleCorp',
};

describe('dicom identifiers', () => {
  const syntaxes = ['explicit-le.dcm', 'implicit-le.dcm', 'explicit-be.dcm', 'deflated.dcm', 'jpeg-baseline.dcm'];

  it.each(syntaxes)('%s: no identifying tag, value or date anywhere in the result by default', async (name) => {
    const { section } = await extractDicom(input(path.join(fixturesDir, 'dicom', name)), testExtractConfig());
    const tags = (section as DicomInfo).tags;
    for (const keyword of Object.keys(identifyingTags)) expect(tags).not.toHaveProperty(keyword);
    const json = JSON.stringify(section);
    for (const value of Object.values(phi)) expect(json).not.toContain(value);
  });

  it.each(syntaxes)('%s: shown with dicomIncludePhi', async (name) => {
    const config = testExtractConfig({ dicomIncludePhi: true });
    const { section } = await extractDicom(input(path.join(fixturesDir, 'dicom', name)), config);
    expect((section as DicomInfo).tags).toMatchObject(phi);
  });
});

describe('dicom objects without an image', () => {
  it.each(['sr-text.dcm', 'ecg-no-waveform.dcm'])('%s: no width or height, rather than 0 x 0', async (name) => {
    const { section } = await extractDicom(input(path.join(fixturesDir, 'dicom', name)), testExtractConfig());
    expect(section).not.toHaveProperty('width');
    expect(section).not.toHaveProperty('height');
    expect(JSON.stringify(section)).not.toContain('Doe^Jane');
  });

  it('an image keeps its size', async () => {
    const { section } = await extractDicom(input(path.join(fixturesDir, 'dicom', 'explicit-le.dcm')), testExtractConfig());
    expect(section).toMatchObject({ width: 8, height: 6 });
  });
});

describe('dicom that fails to parse', () => {
  // Modality, the patient module with made-up identifiers, then 10,000 sequences of undefined length,
  // each in an item of the one before, all closed: dicom-parser recurses once per level and runs out of
  // stack (a RangeError, which it throws as { exception, dataSet }, the data set holding every byte read).
  const deep = Buffer.concat([part10Header(), element([0x0008, 0x0060], 'CS', 'OT'), patientModule(), nestedSequences([0x0040, 0xa730], 10_000)]);

  it('the test file carries the identifiers the failure must not show', () => {
    expect(findLeaks(deep.toString('latin1'), plantedPhi)).toEqual(['PatientName as text', 'PatientID as text', 'PatientBirthDate as text']);
  });

  it('10,000 nested sequences: CORRUPT_ASSET, a short message, no identifier in any form, no data set kept', async () => {
    const file = path.join(tmp, 'deep.dcm');
    writeFileSync(file, deep);
    const err = (await extractDicom(input(file), testExtractConfig()).catch((e: unknown) => e)) as AssetError;
    expect(err).toMatchObject({ code: 'CORRUPT_ASSET', message: 'cannot read dicom: Maximum call stack size exceeded' });
    expect(Buffer.byteLength(err.message)).toBeLessThanOrEqual(maxErrorMessageBytes);
    // Everything that could print it: the saved form, the stack, and what console.error would show.
    const outputs = [JSON.stringify(err), String(err.stack), inspect(err, { depth: null, maxArrayLength: null, maxStringLength: null })].join('\n');
    expect(findLeaks(outputs, plantedPhi)).toEqual([]);
    expect(err.cause).toBeInstanceOf(RangeError);
  });
});

/**
 * A multi-frame file of `frames` 512x512 16-bit frames: multiframe.dcm's data set up to its pixel data,
 * then a PixelData element of the new length; frames are written in 1 MiB blocks.
 */
function writeLargeMultiframe(file: string, frames: number): number {
  const source = readFileSync(path.join(fixturesDir, 'dicom/multiframe.dcm'));
  const parsed = dicomParser.parseDicom(source, { untilTag: 'x7fe00010' });
  const pixel = parsed.elements.x7fe00010!;
  // Explicit VR OW: tag (4), VR (2), reserved (2), length (4) before the value.
  const headerEnd = pixel.dataOffset - 12;
  const pixelBytes = frames * 512 * 512 * 2;
  const element = Buffer.alloc(12);
  element.writeUInt16LE(0x7fe0, 0);
  element.writeUInt16LE(0x0010, 2);
  element.write('OW', 4, 'latin1');
  element.writeUInt32LE(pixelBytes, 8);
  const fd = openSync(file, 'w');
  try {
    writeSync(fd, source.subarray(0, headerEnd));
    writeSync(fd, element);
    const block = Buffer.alloc(1024 * 1024, 0x5a);
    for (let left = pixelBytes; left > 0; left -= block.length) writeSync(fd, block, 0, Math.min(left, block.length));
  } finally {
    closeSync(fd);
  }
  return headerEnd + element.length + pixelBytes;
}

describe('dicom reader', () => {
  it('reads only the first chunk of a 50 MB multi-frame file', async () => {
    const file = path.join(tmp, 'large.dcm');
    const size = writeLargeMultiframe(file, 100);
    expect(size).toBeGreaterThan(50 * 1024 * 1024);
    const header = await readDicomHeader(file);
    expect(header.bytesRead).toBeLessThanOrEqual(64 * 1024);
    expect(header.dataSet.elements.x7fe00010?.length).toBe(100 * 512 * 512 * 2);
    const { section } = await extractDicom(input(file), testExtractConfig());
    expect(section).toMatchObject({ width: 8, height: 6, frames: 3, transferSyntaxUID: '1.2.840.10008.1.2.1' });
    rmSync(file);
  });

  it('reads in doubling chunks until the pixel data is reached', async () => {
    const file = path.join(fixturesDir, 'dicom/explicit-le.dcm');
    // 256 bytes first: the 1,126-byte file's header needs 256 → 512 → 1024 bytes.
    const header = await readDicomHeader(file, { firstChunkBytes: 256, maxHeaderBytes: 1 << 20 });
    expect(header.bytesRead).toBe(1024);
    expect(header.dataSet.uint16('x00280011')).toBe(8);
  });

  it('gives up with TOO_LARGE when the header outgrows the cap', async () => {
    const file = path.join(fixturesDir, 'dicom/explicit-le.dcm');
    await expect(readDicomHeader(file, { firstChunkBytes: 128, maxHeaderBytes: 512 })).rejects.toMatchObject({
      code: 'TOO_LARGE',
    });
  });

  it('a small deflated data set, inflated in one call, reads as the streaming inflate reads it', async () => {
    const bytes = readFileSync(path.join(fixturesDir, 'dicom/deflated.dcm'));
    const variants: Array<[string, Buffer]> = [
      ['whole', bytes],
      ['cut 20 bytes short', bytes.subarray(0, bytes.length - 20)],
      ['a flipped byte near the end', Buffer.from(bytes).fill(0x5a, bytes.length - 30, bytes.length - 29)],
    ];
    const seen = (header: Promise<{ dataSet: { elements: object }; transferSyntaxUID: string }>) =>
      header.then((h) => ({ tags: Object.keys(h.dataSet.elements), syntax: h.transferSyntaxUID }), (err: unknown) => String(err));
    for (const [label, variant] of variants) {
      const file = path.join(tmp, `deflated-${label.replace(/\W+/g, '-')}.dcm`);
      writeFileSync(file, variant);
      // A first chunk of 16 bytes is smaller than any inflated data set: the streaming read decides.
      const streamed = await seen(readDicomHeader(file, { firstChunkBytes: 16, maxHeaderBytes: 64 << 20 }));
      expect(await seen(readDicomHeader(file)), label).toEqual(streamed);
    }
    // Hand-written: the whole file is an 8x6 RGB secondary capture, deflated explicit VR little endian.
    expect(await seen(readDicomHeader(path.join(tmp, 'deflated-whole.dcm')))).toMatchObject({ syntax: '1.2.840.10008.1.2.1.99' });
  });

  it('caps the compressed bytes of a deflated data set too: empty deflate blocks past the cap are TOO_LARGE', async () => {
    const bytes = readFileSync(path.join(fixturesDir, 'dicom/deflated.dcm'));
    let start = -1;
    dicomParser.parseDicom(bytes, {
      inflater: (arr: Uint8Array, position: number) => {
        start = position;
        return Buffer.concat([arr.subarray(0, position), inflateRawSync(arr.subarray(position))]);
      },
    });
    // 2,000 empty stored blocks (BFINAL 0, BTYPE 00, 5 ignored bits set so that the first two bytes do not
    // read as a meta group tag, LEN 0, NLEN FFFF: 5 bytes each) before the data set's own deflate stream:
    // 10,000 compressed bytes that inflate to nothing.
    const emptyBlocks = Buffer.concat(Array.from({ length: 2000 }, () => Buffer.from([0xf8, 0, 0, 0xff, 0xff])));
    const file = path.join(tmp, 'deflated-padded.dcm');
    writeFileSync(file, Buffer.concat([bytes.subarray(0, start), emptyBlocks, bytes.subarray(start)]));
    await expect(readDicomHeader(file, { firstChunkBytes: 64 * 1024, maxHeaderBytes: 8 * 1024 })).rejects.toMatchObject({ code: 'TOO_LARGE' });
    const header = await readDicomHeader(file, { firstChunkBytes: 64 * 1024, maxHeaderBytes: 1 << 20 });
    expect(header.transferSyntaxUID).toBe('1.2.840.10008.1.2.1.99');
    expect(header.dataSet.uint16('x00280011')).toBe(8);
  });

  it('stops a deflate bomb at the cap without inflating all of it', async () => {
    const file = path.join(fixturesDir, 'dicom/deflate-bomb.dcm');
    await expect(readDicomHeader(file, { firstChunkBytes: 64 * 1024, maxHeaderBytes: 4 << 20 })).rejects.toMatchObject({
      code: 'TOO_LARGE',
    });
  });
});

describe('encapsulated pixel data: its items and delimiter inside the file, whatever follows', () => {
  const fixture = path.join(fixturesDir, 'dicom/jpeg-baseline.dcm');
  const bytes = readFileSync(fixture);
  const expected = JSON.parse(readFileSync(`${fixture}.expected.json`, 'utf8')) as Expected;
  // DataSetTrailingPadding (FFFC,FFFC), OB, 4 bytes of zeros (PS3.10 §7.2): 16 bytes after the delimiter.
  const padding = Buffer.from('fcfffcff4f4200000400000000000000', 'hex');
  // The fixture ends with its fragment's last 12 bytes and the 8-byte sequence delimiter.
  const cut = bytes.subarray(0, bytes.length - 20);
  const variants: [label: string, file: Buffer, outcome: Expected][] = [
    ['padding after the delimiter', Buffer.concat([bytes, padding]), expected],
    ['cut inside the fragment', cut, { status: 'failed', error: { code: 'CORRUPT_ASSET' } }],
    ['cut inside the fragment, then the padding', Buffer.concat([cut, padding]), { status: 'failed', error: { code: 'CORRUPT_ASSET' } }],
  ];

  it.each(variants)('%s', async (label, variant, outcome) => {
    const file = path.join(tmp, `encapsulated-${label.replace(/\W+/g, '-')}.dcm`);
    writeFileSync(file, variant);
    expect(compareExpected(outcome, await probeFile(file, testExtractConfig()))).toEqual([]);
  });

  /** The object as the ranged read leaves it: zeros wherever the planner did not read. */
  async function planned(variant: Buffer): Promise<Buffer | undefined> {
    const held = Buffer.alloc(variant.length);
    const hold = (s: number, e: number) => variant.copy(held, s, s, Math.min(e, variant.length));
    const src: RangeReader = {
      size: variant.length,
      read: async (s, n) => {
        hold(s, s + n);
        return held.subarray(s, s + n);
      },
      ensureAll: async (spans) => spans.forEach(([s, e]) => hold(s, e)),
    };
    return (await planDicom(src, 512)) ? held : undefined;
  }

  it('the ranged plan reads the fixture by ranges, and an element after the delimiter whole', async () => {
    const held = await planned(bytes);
    expect((await readDicomHeader(fixture, undefined, held)).transferSyntaxUID).toBe('1.2.840.10008.1.2.4.50');
    // The delimiter is no longer in the last 8 bytes: the extractor walks the items, which the plan did not read.
    expect(await planned(Buffer.concat([bytes, padding]))).toBeUndefined();
  });
});
