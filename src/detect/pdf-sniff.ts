/**
 * A PDF whose header is not at byte 0. file-type looks for `%PDF` at the start only; readers (pdf.js,
 * Acrobat, poppler) look for it in the first 1024 bytes (ISO 32000-1 §7.5.2 and Annex H.3 note 1), and
 * files arrive that way: a print job's PJL lines, a mail or HTTP header saved with the body, a MacBinary
 * header.
 *
 * When what comes before is text, the header must start a line: text that quotes `%PDF-1.4` in a sentence
 * stays text.
 */
import type { Detected } from './detected.js';

/** How far into the file readers look for the header, in bytes (the same bound pdf.js uses). */
export const pdfHeaderSearchBytes = 1024;
const headerPattern = /%PDF-[12]\.\d/g;

function isBinaryByte(c: number): boolean {
  return c === 0 || (c < 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d && c !== 0x0c);
}

/** PDF when a PDF header appears within the first {@link pdfHeaderSearchBytes} bytes, else null. */
export function sniffPdfAfterLeadingBytes(head: Uint8Array): Detected | null {
  const start = Buffer.from(head.buffer, head.byteOffset, Math.min(head.byteLength, pdfHeaderSearchBytes)).toString('latin1');
  for (const match of start.matchAll(headerPattern)) {
    const at = match.index;
    const before = head.subarray(0, at);
    const lineStart = at === 0 || head[at - 1] === 0x0a || head[at - 1] === 0x0d;
    if (lineStart || before.some(isBinaryByte)) return { dataType: 'pdf', mimeType: 'application/pdf', ext: 'pdf' };
  }
  return null;
}
