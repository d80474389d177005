/**
 * Writes PDFs for the benchmark: a page tree of pages with assorted sizes and rotations, and optionally
 * two big image streams around the page objects (the layout that costs a range reader most: the pages
 * sit between big streams). The streams' bytes are left as holes in the local file, so a 100 MB PDF
 * costs almost nothing to make. ISO 32000-1 §7.5 (file structure), §7.7.3 (page tree).
 */
import { open } from 'node:fs/promises';

export interface PdfPlan {
  pages: number;
  /** Bytes of each of the two image streams; 0 for none. */
  streamBytes: number;
}

/** Page sizes in points, cycled: A4, Letter, A3 landscape, a square. */
const sizes: [number, number][] = [[595, 842], [612, 792], [1191, 842], [500, 500]];
/** /Rotate cycled with a different period, so size and rotation combine. */
const rotations = [0, 0, 90, 0, 270];

/** The page size and rotation of page `i` (0-based) as written. */
export function pageOf(i: number): { width: number; height: number; rotate: number } {
  const [width, height] = sizes[i % sizes.length]!;
  return { width, height, rotate: rotations[i % rotations.length]! };
}

export async function writePdf(path: string, plan: PdfPlan): Promise<void> {
  const file = await open(path, 'w');
  let pos = 0;
  const offsets: number[] = [];
  const put = async (text: string) => {
    const buf = Buffer.from(text, 'latin1');
    await file.write(buf, 0, buf.length, pos);
    pos += buf.length;
  };
  const obj = async (num: number, body: string) => {
    offsets[num] = pos;
    await put(`${num} 0 obj\n${body}\nendobj\n`);
  };
  /** A stream whose data is a hole of `bytes` zeros (grey pixels of a 1-byte-per-pixel image). */
  const hole = async (num: number, bytes: number) => {
    offsets[num] = pos;
    const side = Math.floor(Math.sqrt(bytes));
    await put(`${num} 0 obj\n<< /Type /XObject /Subtype /Image /Width ${side} /Height ${Math.floor(bytes / side)} /ColorSpace /DeviceGray /BitsPerComponent 8 /Length ${bytes} >>\nstream\n`);
    pos += bytes;
    await put('\nendstream\nendobj\n');
  };
  try {
    await put('%PDF-1.7\n%\xe2\xe3\xcf\xd3\n');
    const firstPage = 5;
    const kids = Array.from({ length: plan.pages }, (_, i) => `${firstPage + i} 0 R`).join(' ');
    await obj(1, '<< /Type /Catalog /Pages 2 0 R >>');
    await obj(2, `<< /Type /Pages /Count ${plan.pages} /Kids [${kids}] >>`);
    const images = plan.streamBytes > 0;
    if (images) await hole(3, plan.streamBytes);
    const half = Math.floor(plan.pages / 2);
    for (let i = 0; i < plan.pages; i++) {
      if (images && i === half) await hole(4, plan.streamBytes);
      const p = pageOf(i);
      const res = images ? ` /Resources << /XObject << /Im${i % 2} ${3 + (i % 2)} 0 R >> >>` : '';
      await obj(firstPage + i, `<< /Type /Page /Parent 2 0 R /MediaBox [0 0 ${p.width} ${p.height}] /Rotate ${p.rotate}${res} >>`);
    }
    if (!images) {
      await obj(3, '<< >>');
      await obj(4, '<< >>');
    }
    const count = firstPage + plan.pages;
    const xref = pos;
    let table = `xref\n0 ${count}\n0000000000 65535 f \n`;
    for (let n = 1; n < count; n++) table += `${String(offsets[n]).padStart(10, '0')} 00000 n \n`;
    await put(`${table}trailer\n<< /Size ${count} /Root 1 0 R >>\nstartxref\n${xref}\n%%EOF\n`);
  } finally {
    await file.close();
  }
}
