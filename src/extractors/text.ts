/**
 * Text: encoding, BOM, code points, lines and kind (CONTRACT.md §3). The file is streamed in large chunks
 * through a streaming TextDecoder, so a 1 GB log or a 100 MB single line costs one chunk of memory; only a
 * bounded prefix (and, for a small JSON candidate, the whole text) is kept for the format checks.
 */
import { open } from 'node:fs/promises';
import type { TextInfo } from '../contract.js';
import { CorruptAssetError, messageOf } from '../errors.js';
import type { Extractor } from './extractor.js';
import { TextCounter } from './text-count.js';
import { detectEncoding, encodingSampleBytes } from './text-encoding.js';
import { formatSampleChars, jsonParseMaxBytes, mimeByFormat, textFormat } from './text-format.js';

/** Bytes read and decoded per step: large enough that per-chunk overhead vanishes, small enough for any heap. */
export const textChunkBytes = 1024 * 1024;

const whitespace = new Set([0x20, 0x09, 0x0a, 0x0d, 0x0c, 0x0b, 0xfeff, 0xa0]);

function lastNonSpaceOf(text: string): string {
  for (let i = text.length - 1; i >= 0; i--) {
    if (!whitespace.has(text.charCodeAt(i))) return text[i]!;
  }
  return '';
}

/** Reads the text file at `path` in one pass; exported for tests that feed generated files. */
export async function readTextInfo(path: string): Promise<TextInfo> {
  const fh = await open(path, 'r');
  try {
    const { size } = await fh.stat();
    const head = Buffer.alloc(Math.min(size, encodingSampleBytes));
    await fh.read(head, 0, head.length, 0);
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
    const chunk = Buffer.alloc(Math.min(textChunkBytes, Math.max(size, 1)));
    let position = enc.bomLength;
    for (;;) {
      const { bytesRead } = await fh.read(chunk, 0, chunk.length, position);
      const done = bytesRead === 0;
      const text = done ? decoder.decode() : decoder.decode(chunk.subarray(0, bytesRead), { stream: true });
      counter.push(text);
      units += text.length;
      if (prefix.length < formatSampleChars) prefix += text.slice(0, formatSampleChars - prefix.length);
      if (keepWhole && /\S/.test(prefix.slice(0, 1024))) keepWhole = /^\s*[{[]/.test(prefix);
      if (keepWhole) parts.push(text);
      else parts.length = 0;
      const last = lastNonSpaceOf(text);
      if (last) lastNonSpace = last;
      if (done) break;
      position += bytesRead;
    }
    const whole = keepWhole ? parts.join('') : undefined;
    const format = textFormat(
      { prefix, lastNonSpace, ...(whole !== undefined ? { whole } : {}) },
      units === prefix.length,
    );
    return { encoding: enc.encoding, bom: enc.bom, charCount: counter.charCount, lineCount: counter.lineCount, format };
  } finally {
    await fh.close();
  }
}

export const extractText: Extractor = async (input) => {
  let text: TextInfo;
  try {
    text = await readTextInfo(input.path);
  } catch (err) {
    throw new CorruptAssetError(`cannot read text: ${messageOf(err)}`, { cause: err });
  }
  // Detection's own name wins when it is more precise than "text/plain" (application/xml, text/vtt, ...).
  const mimeType = input.mimeType === 'text/plain' ? mimeByFormat[text.format] : input.mimeType;
  return { dataType: 'text', mimeType, section: text };
};
