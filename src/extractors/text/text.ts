/**
 * Text: encoding, BOM, code points, lines and kind (docs/contract.md §3). The file is streamed in large chunks
 * through a streaming TextDecoder, so a 1 GB log or a 100 MB single line costs one chunk of memory; only a
 * bounded prefix (and, for a small JSON candidate, the whole text) is kept for the format checks.
 */
import type { TextInfo } from '../../contract.js';
import { CorruptAssetError, messageOf } from '../../errors.js';
import type { Extractor } from '../extractor.js';
import { fillSync, withSourceSync } from '../read-sync.js';
import { TextCounter } from './count.js';
import { detectEncoding, encodingSampleBytes } from './encoding.js';
import { formatSampleChars, jsonParseMaxBytes, mimeByFormat, textFormat } from './format.js';

/** Bytes read and decoded per step: large enough that per-chunk overhead vanishes, small enough for any heap. */
export const textChunkBytes = 1024 * 1024;

const whitespace = new Set([0x20, 0x09, 0x0a, 0x0d, 0x0c, 0x0b, 0xfeff, 0xa0]);

function lastNonSpaceOf(text: string): string {
  for (let i = text.length - 1; i >= 0; i--) {
    if (!whitespace.has(text.charCodeAt(i))) return text[i]!;
  }
  return '';
}

/** Reads the text file at `path` (or `bytes`, all of it, when the caller holds them) in one pass. */
export async function readTextInfo(path: string, bytes?: Buffer): Promise<TextInfo> {
  return withSourceSync(path, bytes, (fd, size) => {
    // The first chunk is read once: its start is the encoding sample, and it is decoded as it is.
    const chunk = Buffer.allocUnsafe(Math.min(textChunkBytes, Math.max(size, 1)));
    const filled = fillSync(fd, chunk, 0);
    const head = chunk.subarray(0, Math.min(filled, encodingSampleBytes, size));
    const enc = detectEncoding(head, head.length === size);
    // The BOM is skipped by hand and ignoreBOM keeps a second U+FEFF (a zero-width no-break space) as text.
    const decoder = new TextDecoder(enc.encoding, { ignoreBOM: true });
    const counter = new TextCounter();
    // The whole text is kept only for a small file that may be JSON (decided once the first chunk is seen).
    let keepWhole = size <= jsonParseMaxBytes;
    let units = 0;
    const parts: string[] = [];
    let prefix = '';
    let lastNonSpace = '';
    let piece = chunk.subarray(Math.min(enc.bomLength, filled), filled);
    let position = filled;
    for (;;) {
      const done = piece.length === 0;
      const text = done ? decoder.decode() : decoder.decode(piece, { stream: true });
      counter.push(text);
      units += text.length;
      if (prefix.length < formatSampleChars) prefix += text.slice(0, formatSampleChars - prefix.length);
      if (keepWhole && /\S/.test(prefix.slice(0, 1024))) keepWhole = /^\s*[{[]/.test(prefix);
      if (keepWhole) parts.push(text);
      else parts.length = 0;
      lastNonSpace = lastNonSpaceOf(text) || lastNonSpace;
      if (done) break;
      // Read until a read returns nothing, as a stream would: the size from fstat only sizes the buffer.
      const n = fillSync(fd, chunk, position);
      piece = chunk.subarray(0, n);
      position += n;
    }
    const format = textFormat({ prefix, lastNonSpace, ...(keepWhole ? { whole: parts.join('') } : {}) }, units === prefix.length);
    return { encoding: enc.encoding, bom: enc.bom, charCount: counter.charCount, lineCount: counter.lineCount, format };
  });
}

export const extractText: Extractor = async (input) => {
  const text = await readTextInfo(input.path, input.bytes).catch((err: unknown) => {
    throw new CorruptAssetError(`cannot read text: ${messageOf(err)}`, { cause: err });
  });
  // Detection's own name wins when it is more precise than "text/plain" (application/xml, text/vtt, ...).
  const mimeType = input.mimeType === 'text/plain' ? mimeByFormat[text.format] : input.mimeType;
  return { dataType: 'text', mimeType, section: text };
};
