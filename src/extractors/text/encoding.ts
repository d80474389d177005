/**
 * Which encoding a text file is in, from a sample of its head. In order: a BOM (it is authoritative);
 * UTF-16 without a BOM (NUL pattern); valid UTF-8 (pure ASCII included: "us-ascii" would only say that the
 * sample had no byte above 0x7F), unless ISO-2022 escapes make chardet's answer the better one; otherwise
 * chardet's best candidate that the WHATWG TextDecoder can decode, or windows-1252, which decodes every byte
 * and is the WHATWG Encoding standard's fallback for legacy content. Names are lower-case WHATWG labels.
 */
import chardet from 'chardet';
import { bomOf, utf16WithoutBom } from '../../detect/text-sniff.js';

/** Bytes of the head the encoding is decided from (chardet's own default sample is this size too). */
export const encodingSampleBytes = 64 * 1024;

export interface TextEncoding {
  /** Lower-case label, also accepted by TextDecoder. */
  encoding: string;
  bom: boolean;
  /** Bytes of the BOM to skip before decoding (0 without one). */
  bomLength: number;
}

/** Whether TextDecoder knows `label` and decodes `sample` without error (with `stream`, a sequence cut at its end is allowed). */
function decodes(label: string, sample?: Uint8Array, stream = false): boolean {
  try {
    new TextDecoder(label, { fatal: true }).decode(sample, { stream });
    return true;
  } catch {
    return false;
  }
}

function chardetGuess(sample: Uint8Array): string | undefined {
  return chardet.analyse(sample).map((match) => match.name.toLowerCase()).find((label) => decodes(label));
}

/**
 * @param sample the file's first bytes (up to {@link encodingSampleBytes})
 * @param wholeFile whether the sample is the whole file (then a cut multi-byte sequence at its end is an error)
 */
export function detectEncoding(sample: Uint8Array, wholeFile: boolean): TextEncoding {
  const bom = bomOf(sample);
  if (bom) return { encoding: bom.encoding, bom: true, bomLength: bom.length };
  const plain = (encoding: string): TextEncoding => ({ encoding, bom: false, bomLength: 0 });
  const utf16 = utf16WithoutBom(sample);
  if (utf16) return plain(utf16);
  if (decodes('utf-8', sample, !wholeFile)) {
    // ISO-2022 encodings are 7-bit (valid UTF-8 byte for byte) but switch character sets with ESC $ or ESC (.
    const bytes = Buffer.from(sample.buffer, sample.byteOffset, sample.byteLength);
    const iso2022 = bytes.includes('\x1b$') || bytes.includes('\x1b(') ? chardetGuess(sample) : undefined;
    return plain(iso2022?.startsWith('iso-2022') ? iso2022 : 'utf-8');
  }
  return plain(chardetGuess(sample) ?? 'windows-1252');
}
