/**
 * Is this head of a file text? A BOM says so; otherwise bytes that decode as UTF-8 (or a single-byte
 * code page) with no control characters beyond layout ones. SVG is text that is an image.
 */
import type { Detected } from '../extractors/extractor.js';

/** Share of the head that may be C0 control characters (other than tab, LF, CR, FF, ESC) and still be text. */
const maxControlRatio = 0.01;

function hasBom(b: Uint8Array): boolean {
  return (
    (b[0] === 0xef && b[1] === 0xbb && b[2] === 0xbf) ||
    (b[0] === 0xff && b[1] === 0xfe) ||
    (b[0] === 0xfe && b[1] === 0xff)
  );
}

/** UTF-16 without a BOM: every other byte NUL in ASCII-heavy text. */
function looksUtf16(b: Uint8Array): boolean {
  const n = Math.min(b.length & ~1, 4096);
  if (n < 4) return false;
  let evenNul = 0;
  let oddNul = 0;
  for (let i = 0; i < n; i += 2) {
    if (b[i] === 0) evenNul++;
    if (b[i + 1] === 0) oddNul++;
  }
  const pairs = n / 2;
  return (oddNul > pairs * 0.4 && evenNul < pairs * 0.05) || (evenNul > pairs * 0.4 && oddNul < pairs * 0.05);
}

function controlRatio(b: Uint8Array): number {
  let bad = 0;
  for (const c of b) {
    if (c === 0) return 1;
    if (c < 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d && c !== 0x0c && c !== 0x1b) bad++;
    else if (c === 0x7f) bad++;
  }
  return b.length ? bad / b.length : 0;
}

const svgStart = /^\s*(?:<\?xml[^>]*>\s*)?(?:<!--[\s\S]*?-->\s*|<!DOCTYPE[^>[]*(?:\[[\s\S]*?\])?\s*>\s*)*<svg[\s>]/i;

export function sniffText(head: Uint8Array): Detected | null {
  const isText = hasBom(head) || looksUtf16(head) || controlRatio(head) <= maxControlRatio;
  if (!isText) return null;
  const start = Buffer.from(head.buffer, head.byteOffset, Math.min(head.byteLength, 4096)).toString('utf8').replace(/^\uFEFF/, '');
  if (svgStart.test(start)) return { dataType: 'image', mimeType: 'image/svg+xml', ext: 'svg' };
  return { dataType: 'text', mimeType: 'text/plain', ext: 'txt' };
}
