/**
 * Claims of poppler's pdfinfo, qpdf, dcmtk's dcmdump, and of `file` and `wc -l` for text.
 */
import { readFile } from 'node:fs/promises';
import { Claims, num, type Claim } from './claim.js';
import { encodingAgrees } from './exiftool.js';
import { run } from './run.js';

/**
 * pdfinfo prints each page's size from its CropBox (falling back to the MediaBox) and its /Rotate
 * separately ("Page 4 rot: 90"); the contract's size is the viewport with the rotation applied, so a
 * quarter turn swaps pdfinfo's width and height. Its "PDF version" is the header's, raised by the
 * catalog's /Version (poppler reads both).
 */
export async function pdfClaims(bins: { pdfinfo: string; qpdf: string }, file: string): Promise<Claim[]> {
  const info = new Claims('pdfinfo');
  const head = await run(bins.pdfinfo, [file]);
  if (head.code !== 0) {
    info.add('status', 'failed');
  } else {
    info.add('status', 'ok');
    const field = (name: string) => new RegExp(`^${name}:\\s*(.*)$`, 'm').exec(head.stdout)?.[1]?.trim();
    const pages = num(field('Pages'));
    info.add('pdf.pageCount', pages);
    const enc = field('Encrypted');
    info.add('pdf.encrypted', enc === undefined ? undefined : enc.startsWith('yes'));
    info.add('pdf.version', field('PDF version'));
    if (pages) {
      const sized = await run(bins.pdfinfo, ['-f', '1', '-l', String(pages), file]);
      const sizes = new Map<number, [number, number]>();
      const rots = new Map<number, number>();
      for (const m of sized.stdout.matchAll(/^Page\s+(\d+) size:\s+([\d.]+) x ([\d.]+) pts/gm)) {
        sizes.set(Number(m[1]), [Number(m[2]), Number(m[3])]);
      }
      for (const m of sized.stdout.matchAll(/^Page\s+(\d+) rot:\s+(-?\d+)/gm)) rots.set(Number(m[1]), Number(m[2]));
      for (const [page, [w, h]] of sizes) {
        const quarter = (((rots.get(page) ?? 0) % 180) + 180) % 180 === 90;
        info.add(`pdf.pages[${page - 1}].width`, quarter ? h : w);
        info.add(`pdf.pages[${page - 1}].height`, quarter ? w : h);
      }
    }
  }
  const qpdf = new Claims('qpdf');
  const npages = await run(bins.qpdf, ['--show-npages', file]);
  // qpdf: exit 0 clean, 3 read with warnings (it repaired something), 2 could not read.
  if (npages.code === 0 || npages.code === 3) {
    qpdf.add('status', 'ok').add('pdf.pageCount', num(npages.stdout.trim()));
  } else {
    qpdf.add('status', 'failed');
  }
  // --requires-password: 0 a password is needed, 3 encrypted but openable, 2 not encrypted (or unreadable).
  const pw = await run(bins.qpdf, ['--requires-password', file]);
  if (pw.code === 0) qpdf.add('error.code', 'ENCRYPTED_ASSET');
  if (pw.code === 3) qpdf.add('pdf.encrypted', true);
  if (pw.code === 2 && npages.code === 0) qpdf.add('pdf.encrypted', false);
  return [...info.list, ...qpdf.list];
}

/** dcmdump's top-level elements that map to the contract's DICOM fields. */
const dicomTags: Record<string, string> = {
  '0028,0010': 'dicom.height',
  '0028,0011': 'dicom.width',
  '0028,0008': 'dicom.frames',
  '0002,0010': 'dicom.transferSyntaxUID',
  '0008,0060': 'dicom.modality',
  '0008,0016': 'dicom.sopClassUID',
  '0008,0018': 'dicom.sopInstanceUID',
  '0020,000d': 'dicom.studyInstanceUID',
  '0020,000e': 'dicom.seriesInstanceUID',
  '0028,0100': 'dicom.bitsAllocated',
  '0028,0004': 'dicom.photometricInterpretation',
};

/** `dcmdump -M +uc -Un`: header only (long values not loaded), UN elements of a known tag read as their real VR, UIDs as numbers. */
export async function dcmdumpClaims(bin: string, file: string): Promise<Claim[]> {
  const out = await run(bin, ['-M', '+uc', '-Un', file]);
  const c = new Claims('dcmdump');
  if (out.code !== 0 || /^E: /m.test(out.stderr)) return c.add('status', 'failed').list;
  c.add('status', 'ok');
  const seen = new Map<string, string>();
  // Top-level elements only: items of a sequence are indented.
  for (const m of out.stdout.matchAll(/^\(([0-9a-f]{4},[0-9a-f]{4})\) [A-Z]{2} (.*?)\s+#/gm)) {
    const tag = m[1] as string;
    if (dicomTags[tag] && !seen.has(tag)) seen.set(tag, (m[2] as string).replace(/^\[(.*)\]$/, '$1'));
  }
  for (const [tag, raw] of seen) {
    const field = dicomTags[tag] as string;
    const numeric = ['dicom.height', 'dicom.width', 'dicom.frames', 'dicom.bitsAllocated'].includes(field);
    c.add(field, numeric ? num(raw) : raw);
  }
  if (seen.has('0028,0010') && !seen.has('0028,0008')) c.add('dicom.frames', 1);
  return c.list;
}

/**
 * `file --mime-encoding` (libmagic) and `wc -l`. wc counts LF bytes: a CR-only line end is no line to
 * it, and neither is a last line without a line end; the contract counts both. The difference is
 * printed, and explained only when exactly those two account for it (see known.ts).
 */
export async function textClaims(bins: { file: string; wc: string }, file: string): Promise<Claim[]> {
  const magic = new Claims('file');
  const enc = (await run(bins.file, ['--brief', '--mime-encoding', file])).stdout.trim();
  if (enc && enc !== 'binary' && enc !== 'unknown-8bit') magic.add('text.encoding', enc, encodingAgrees(enc));
  const wc = new Claims('wc -l');
  const lines = await run(bins.wc, ['-l', file]);
  wc.add('text.lineCount', num(lines.stdout.trim().split(/\s+/)[0]));
  return [...magic.list, ...wc.list];
}

/** What the LF-only count misses in a file: CR-only line ends and an unterminated last line (in bytes). */
export async function lfOnlyShortfall(file: string, encoding: string): Promise<number> {
  const buf = await readFile(file);
  const text = new TextDecoder(encoding.startsWith('utf-16') ? encoding : 'latin1').decode(buf);
  let loneCr = 0;
  for (let i = 0; i < text.length; i++) if (text[i] === '\r' && text[i + 1] !== '\n') loneCr++;
  const last = text.at(-1);
  const unterminated = text.length > 0 && last !== '\n' && last !== '\r' ? 1 : 0;
  return loneCr + unterminated;
}
