/**
 * What the fixture table cannot show: the page-size cap, the bytes a large file costs, a failed read and
 * how quickly a broken page tree ends.
 */
import { mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CorruptAssetError } from '../../src/errors.js';
import type { ExtractInput } from '../../src/extractors/extractor.js';
import { extractPdf, readPdfInfo } from '../../src/extractors/pdf/pdf.js';
import { FileRangeTransport } from '../../src/extractors/pdf/source.js';
import { fixturesDir, testExtractConfig } from '../helpers/fixtures.js';

const tmp = mkdtempSync(path.join(tmpdir(), 'pdf-test-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function input(file: string): ExtractInput {
  return { path: file, sizeBytes: 0, dataType: 'pdf', mimeType: 'application/pdf', ext: 'pdf' };
}

/** A classic PDF with a correct cross-reference table; object 1 is the catalog. */
function buildPdf(objects: (string | Buffer)[]): Buffer {
  const parts: Buffer[] = [Buffer.from('%PDF-1.4\n')];
  let length = parts[0]!.length;
  const offsets: number[] = [];
  objects.forEach((obj, i) => {
    offsets.push(length);
    const part = Buffer.concat([Buffer.from(`${i + 1} 0 obj\n`), Buffer.from(obj), Buffer.from('\nendobj\n')]);
    parts.push(part);
    length += part.length;
  });
  const xref = [`xref\n0 ${objects.length + 1}\n0000000000 65535 f \n`];
  for (const off of offsets) xref.push(`${String(off).padStart(10, '0')} 00000 n \n`);
  xref.push(`trailer\n<< /Size ${objects.length + 1} /Root 1 0 R >>\nstartxref\n${length}\n%%EOF\n`);
  parts.push(Buffer.from(xref.join('')));
  return Buffer.concat(parts);
}

describe('pdf extractor', () => {
  it('lists at most pdfMaxPageSizes pages, while pageCount stays the true count', async () => {
    const file = path.join(fixturesDir, 'pdf/linearized.pdf');
    const capped = await extractPdf(input(file), testExtractConfig({ pdfMaxPageSizes: 3 }));
    expect(capped.section).toMatchObject({ pageCount: 12, pages: [{ width: 612, height: 792 }, {}, {}] });
    expect((capped.section as { pages: unknown[] }).pages).toHaveLength(3);
    const none = await extractPdf(input(file), testExtractConfig({ pdfMaxPageSizes: 0 }));
    expect(none.section).toMatchObject({ pageCount: 12, pages: [] });
  });

  it('still fails a page tree broken past the cap', async () => {
    const file = path.join(fixturesDir, 'pdf/pages-loop-second.pdf');
    await expect(extractPdf(input(file), testExtractConfig({ pdfMaxPageSizes: 1 }))).rejects.toMatchObject({
      code: 'CORRUPT_ASSET',
    });
  });

  it('ends a page tree that loops with CORRUPT_ASSET, not a hang', async () => {
    const file = path.join(fixturesDir, 'pdf/pages-loop.pdf');
    await extractPdf(input(path.join(fixturesDir, 'pdf/mixed-sizes.pdf')), testExtractConfig()); // warm pdf.js up
    // A loop that pdf.js followed for ever would fail this test by its timeout.
    await expect(extractPdf(input(file), testExtractConfig())).rejects.toBeInstanceOf(CorruptAssetError);
  });

  // 24 MiB of stream data between the catalog and the page tree: only the chunks pdf.js needs are read.
  const bigStreamBytes = 24 * 1024 * 1024;
  const bigPdf = (): string => {
    const file = path.join(tmp, 'big.pdf');
    const filler = Buffer.concat([
      Buffer.from(`<< /Length ${bigStreamBytes} >>\nstream\n`),
      Buffer.alloc(bigStreamBytes, 0x20),
      Buffer.from('\nendstream'),
    ]);
    writeFileSync(
      file,
      buildPdf([
        '<< /Type /Catalog /Pages 3 0 R >>',
        filler,
        '<< /Type /Pages /Kids [4 0 R 5 0 R] /Count 2 >>',
        '<< /Type /Page /Parent 3 0 R /MediaBox [0 0 100 200] >>',
        '<< /Type /Page /Parent 3 0 R /MediaBox [0 0 300 400] /Rotate 270 >>',
      ]),
    );
    return file;
  };

  it('reads a large file by ranges, not whole', async () => {
    const file = bigPdf();
    const transport = await FileRangeTransport.open(file);
    try {
      const pdf = await readPdfInfo(transport, 100);
      expect(pdf).toEqual({
        pageCount: 2,
        pages: [{ width: 100, height: 200 }, { width: 400, height: 300 }],
        encrypted: false,
        version: '1.4',
      });
      expect(transport.bytesRead).toBeGreaterThan(0);
      expect(transport.bytesRead).toBeLessThan(1024 * 1024);
    } finally {
      await transport.close();
    }
  });

  it('fails with CORRUPT_ASSET, not a hang, when the file shrinks while pdf.js reads it', async () => {
    const file = bigPdf();
    const transport = await FileRangeTransport.open(file);
    try {
      truncateSync(file, 1024 * 1024);
      await expect(readPdfInfo(transport, 100)).rejects.toMatchObject({ code: 'CORRUPT_ASSET' });
    } finally {
      await transport.close();
    }
  });
});
