/**
 * Objects stored with a Content-Encoding (S3 and GCS keep `Content-Encoding: gzip` as object metadata and
 * send the stored bytes with it, whatever the request's Accept-Encoding): the bytes on the wire are the
 * encoding of the asset, not the asset. They are decoded on the way to the temp file, and the decoded
 * bytes are what is measured against the size limit, hashed and extracted (an encoding bomb ends as
 * TOO_LARGE once the decoded bytes pass the limit). Ranges of such an object are ranges of its encoding,
 * useless to a planner: ranged reads fall back to a whole download.
 */
import { createBrotliDecompress, createGunzip, createInflate } from 'node:zlib';
import type { Transform } from 'node:stream';
import { UnsupportedTypeError } from '../errors.js';

/** Encodings decoded, by their RFC 9110 §8.4.1 names (x-gzip is gzip's old alias). */
const decoders: Record<string, () => Transform> = {
  gzip: createGunzip,
  'x-gzip': createGunzip,
  deflate: createInflate,
  br: createBrotliDecompress,
};

/** Encodings stacked on one object that are decoded at most (RFC 9110 allows a list; two is already odd). */
export const maxContentEncodings = 2;

/** The codings of a Content-Encoding header in the order applied; `identity` dropped. */
export function codingsOf(header: unknown): string[] {
  const text = Array.isArray(header) ? header.join(',') : typeof header === 'string' ? header : '';
  return text
    .split(',')
    .map((c) => c.trim().toLowerCase())
    .filter((c) => c && c !== 'identity');
}

/**
 * Decoders for a Content-Encoding header, outermost first (the reverse of the order applied); none for an
 * identity body. An encoding the worker does not decode is UNSUPPORTED_TYPE, named in the message.
 */
export function decodersFor(header: unknown): Transform[] {
  const codings = codingsOf(header);
  const unknown = codings.find((c) => !(c in decoders));
  if (unknown !== undefined || codings.length > maxContentEncodings) {
    const named = (unknown ?? codings.join(', ')).replace(/[^a-z0-9, ._-]/g, '').slice(0, 40);
    throw new UnsupportedTypeError(
      `object is stored with Content-Encoding ${named}, which the worker does not decode (gzip, deflate or br, at most ${maxContentEncodings})`,
    );
  }
  return codings.reverse().map((c) => decoders[c]!());
}

/**
 * True for a zlib error (`Z_DATA_ERROR`, `Z_BUF_ERROR` for a truncated stream) or a brotli one (its codes
 * are `ERR__ERROR_FORMAT_…`, `ERR_BROTLI_…`): the bytes are not a valid encoding, a corrupt object.
 */
export function isDecodeError(err: unknown): boolean {
  const code = (err as { code?: unknown })?.code;
  return typeof code === 'string' && (code.startsWith('Z_') || code.startsWith('ERR_BROTLI') || code.startsWith('ERR__ERROR_'));
}
