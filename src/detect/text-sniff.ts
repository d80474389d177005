/**
 * Is this head of a file text (or SVG, text that is an image)? Text is: a Unicode BOM followed by text; or
 * UTF-16 without a BOM (the NUL byte of each ASCII character on one side); or bytes with no NUL and almost no
 * C0 control characters other than layout ones. Bytes 0x80..0xFF are allowed in any number: UTF-8, a
 * single-byte code page or Shift_JIS all use them; the extractor decides which (extractors/text/encoding.ts).
 */
import type { Detected } from './detected.js';

/** Share of the head that may be C0 control characters (other than tab, LF, CR, FF, ESC) and still be text. */
const maxControlRatio = 0.01;
/** Bytes the UTF-16 heuristic looks at: enough pairs for a stable ratio. */
const utf16SampleBytes = 4096;
/** How much of the head the SVG check decodes: the root element follows the prolog early. */
const svgSampleBytes = 4096;

/** The Unicode BOM at the start of `b`, with its encoding and length, or null. */
export function bomOf(b: Uint8Array): { encoding: 'utf-8' | 'utf-16le' | 'utf-16be'; length: number } | null {
  if (b[0] === 0xef && b[1] === 0xbb && b[2] === 0xbf) return { encoding: 'utf-8', length: 3 };
  // FF FE 00 00 would be UTF-32LE, which no decoder here reads: not treated as a BOM (binary then).
  if (b[0] === 0xff && b[1] === 0xfe && !(b[2] === 0 && b[3] === 0)) return { encoding: 'utf-16le', length: 2 };
  if (b[0] === 0xfe && b[1] === 0xff) return { encoding: 'utf-16be', length: 2 };
  return null;
}

/**
 * UTF-16 without a BOM: in text that is mostly ASCII (markup, logs, CSV), one byte of every pair is NUL.
 * The NULs on the odd side say little endian; on the even side big endian. Text in scripts without ASCII
 * (CJK) has no such pattern and is not recognised without its BOM.
 */
export function utf16WithoutBom(b: Uint8Array): 'utf-16le' | 'utf-16be' | null {
  const n = Math.min(b.length & ~1, utf16SampleBytes);
  if (n < 4) return null;
  let evenNul = 0;
  let oddNul = 0;
  for (let i = 0; i < n; i += 2) {
    if (b[i] === 0) evenNul++;
    if (b[i + 1] === 0) oddNul++;
  }
  const pairs = n / 2;
  if (oddNul > pairs * 0.4 && evenNul < pairs * 0.05) return 'utf-16le';
  if (evenNul > pairs * 0.4 && oddNul < pairs * 0.05) return 'utf-16be';
  return null;
}

function isControl(c: number): boolean {
  return (c < 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d && c !== 0x0c && c !== 0x1b) || c === 0x7f;
}

/** 1 for each byte value {@link isControl} calls a control character, so the count below is a table lookup. */
const controlBytes = Uint8Array.from({ length: 256 }, (_, c) => (isControl(c) ? 1 : 0));

/** Share of control bytes in a head without a BOM; a NUL makes it binary outright. */
function controlRatio(b: Uint8Array): number {
  if (b.indexOf(0) !== -1) return 1;
  let bad = 0;
  for (let i = 0; i < b.length; i++) bad += controlBytes[b[i]!]!;
  return b.length ? bad / b.length : 0;
}

/**
 * Share of control characters and undecodable sequences (U+FFFD) in the head decoded as `encoding`.
 * A BOM is two or three bytes that binary formats can also start with (FF FE opens an MPEG audio frame):
 * the characters after it must look like text too.
 */
function decodedControlRatio(b: Uint8Array, encoding: string): number {
  const text = new TextDecoder(encoding).decode(b.subarray(0, utf16SampleBytes), { stream: true });
  let bad = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0 || c === 0xfffd || isControl(c)) bad++;
  }
  return text.length ? bad / text.length : 0;
}

// An XML prolog, comments and a DOCTYPE (with an internal subset) may come before the root element.
const svgStart = /^\s*(?:<\?xml[^>]*>\s*)?(?:<!--[\s\S]*?-->\s*|<!DOCTYPE[^>[]*(?:\[[\s\S]*?\])?\s*>\s*)*<svg[\s>]/i;

/** Text (or SVG) for a head that is text in some encoding, else null. */
export function sniffText(head: Uint8Array): Detected | null {
  // A Unicode encoding its BOM or NUL pattern names; otherwise any byte-oriented one.
  const encoding = bomOf(head)?.encoding ?? utf16WithoutBom(head);
  if ((encoding ? decodedControlRatio(head, encoding) : controlRatio(head)) > maxControlRatio) return null;
  const start = new TextDecoder(encoding ?? 'utf-8').decode(head.subarray(0, svgSampleBytes));
  if (svgStart.test(start)) return { dataType: 'image', mimeType: 'image/svg+xml', ext: 'svg' };
  // An HLS playlist (RFC 8216 §4.3.1.1: its first line is #EXTM3U) is text: it names other files and URLs,
  // so it must never reach ffprobe, which would follow them.
  if (/^\uFEFF?#EXTM3U\s/.test(start)) return { dataType: 'text', mimeType: 'application/vnd.apple.mpegurl', ext: 'm3u8' };
  return { dataType: 'text', mimeType: 'text/plain', ext: 'txt' };
}
