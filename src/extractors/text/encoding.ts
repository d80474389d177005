/**
 * Which encoding a text file is in, from a sample of its head. In order: a BOM (it is authoritative);
 * UTF-16 without a BOM (NUL pattern); valid UTF-8 (pure ASCII included: ASCII is UTF-8, and "us-ascii"
 * would only say that no byte above 0x7F was seen in the sample); otherwise chardet's best candidate that
 * the WHATWG TextDecoder can decode. Names are lower-case WHATWG/IANA labels: utf-8, utf-16le, utf-16be,
 * windows-1252, iso-8859-1, shift_jis, ...
 */
import chardet from 'chardet';
import { bomOf, utf16WithoutBom } from '../../detect/text-sniff.js';

/** Bytes of the head the encoding is decided from (chardet's own default sample is this size too). */
export const encodingSampleBytes = 64 * 1024;

/**
 * When no candidate fits: windows-1252 decodes every byte, and it is the fallback the WHATWG Encoding
 * standard gives legacy content.
 */
const fallbackEncoding = 'windows-1252';

export interface TextEncoding {
  /** Lower-case label, also accepted by TextDecoder. */
  encoding: string;
  bom: boolean;
  /** Bytes of the BOM to skip before decoding (0 without one). */
  bomLength: number;
}

function decodable(label: string): boolean {
  try {
    new TextDecoder(label);
    return true;
  } catch {
    return false;
  }
}

/** Valid UTF-8, allowing a sequence cut by the sample's end when the file goes on. */
function isUtf8(sample: Uint8Array, wholeFile: boolean): boolean {
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(sample, { stream: !wholeFile });
    return true;
  } catch {
    return false;
  }
}

/** ISO-2022 encodings are 7-bit (valid UTF-8 byte for byte) but switch character sets with ESC $ / ESC (. */
function hasIso2022Escapes(sample: Uint8Array): boolean {
  for (let i = sample.indexOf(0x1b); i !== -1 && i + 1 < sample.length; i = sample.indexOf(0x1b, i + 1)) {
    if (sample[i + 1] === 0x24 || sample[i + 1] === 0x28) return true;
  }
  return false;
}

function chardetGuess(sample: Uint8Array): string | null {
  for (const match of chardet.analyse(sample)) {
    const label = match.name.toLowerCase();
    if (decodable(label)) return label;
  }
  return null;
}

/**
 * @param sample the file's first bytes (up to {@link encodingSampleBytes})
 * @param wholeFile whether the sample is the whole file (then a cut multi-byte sequence at its end is an error)
 */
export function detectEncoding(sample: Uint8Array, wholeFile: boolean): TextEncoding {
  const bom = bomOf(sample);
  if (bom) return { encoding: bom.encoding, bom: true, bomLength: bom.length };
  const utf16 = utf16WithoutBom(sample);
  if (utf16) return { encoding: utf16, bom: false, bomLength: 0 };
  if (isUtf8(sample, wholeFile)) {
    const iso2022 = hasIso2022Escapes(sample) ? chardetGuess(sample) : null;
    return { encoding: iso2022?.startsWith('iso-2022') ? iso2022 : 'utf-8', bom: false, bomLength: 0 };
  }
  return { encoding: chardetGuess(sample) ?? fallbackEncoding, bom: false, bomLength: 0 };
}
