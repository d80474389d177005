/**
 * Stage: download. Streams a URL into a fresh temp file (mode 0600), hashing and counting the bytes
 * received (never trusting Content-Length alone); a failure removes the partial file. An object stored
 * with a Content-Encoding (S3 and GCS send `gzip` object metadata whatever the request asks) is decoded on
 * the way: the decoded bytes are what is limited (a bomb ends as TOO_LARGE), hashed and extracted.
 */
import { createHash } from 'node:crypto';
import { closeSync, openSync, writeSync } from 'node:fs';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createBrotliDecompress, createGunzip, createInflate } from 'node:zlib';
import { Agent, type Dispatcher } from 'undici';
import { CorruptAssetError, TooLargeError, UnsupportedTypeError, messageOf } from '../errors.js';
import { createFetchContext, discard, get, parseUrl, statusError, transportError, type DownloadLimits } from './http-get.js';
import { redactUrl } from './redact.js';
import type { TempDir } from './temp-dir.js';
import type { UrlGuard } from './url-guard.js';

export { maxRedirects, type DownloadLimits } from './http-get.js';

export interface DownloadedFile {
  path: string;
  sizeBytes: number;
  sha256: string;
}

export interface Downloader {
  download(url: string, temp: TempDir, limits: DownloadLimits): Promise<DownloadedFile>;
  close(): Promise<void>;
  /** The connection pool and the guard (for untrusted URLs), for ranged reads. */
  readonly dispatcher?: Dispatcher;
  readonly guard?: UrlGuard;
}

/** Encodings decoded, by their RFC 9110 §8.4.1 names (x-gzip is gzip's old alias). */
const decoders: Record<string, () => Transform> = { gzip: createGunzip, 'x-gzip': createGunzip, deflate: createInflate, br: createBrotliDecompress };

/** Encodings stacked on one object that are decoded at most (RFC 9110 allows a list; two is already odd). */
export const maxContentEncodings = 2;

/** A downloader for URLs the worker signed (trusted) or, with a guard, for URLs that came in a job. */
export function createDownloader(guard?: UrlGuard): Downloader {
  const agent = new Agent({ ...(guard ? { connect: { lookup: guard.lookup } } : {}), keepAliveTimeout: 10_000 });
  return {
    async download(url, temp, limits) {
      const ctx = createFetchContext(agent, guard, limits);
      const { res, url: at } = await get(ctx, parseUrl(url));
      if (res.statusCode !== 200) {
        discard(res.body);
        throw statusError(res.statusCode, at);
      }
      return streamResponse(res, temp, limits.maxBytes, at, ctx.signal);
    },
    close: () => agent.close(),
    dispatcher: agent,
    ...(guard ? { guard } : {}),
  };
}

/** The codings of a Content-Encoding header in the order applied; `identity` dropped. */
export function codingsOf(header: unknown): string[] {
  const text = Array.isArray(header) ? header.join(',') : typeof header === 'string' ? header : '';
  return text.split(',').map((c) => c.trim().toLowerCase()).filter((c) => c && c !== 'identity');
}

/** Streams a 200 response's body to a temp file, decoding its Content-Encoding if it has one. */
export async function streamResponse(
  res: Dispatcher.ResponseData, temp: TempDir, maxBytes: number, url: URL, signal: AbortSignal,
): Promise<DownloadedFile> {
  const codings = codingsOf(res.headers['content-encoding']);
  const unknown = codings.find((c) => !(c in decoders));
  if (unknown !== undefined || codings.length > maxContentEncodings) {
    discard(res.body);
    const named = (unknown ?? codings.join(', ')).replace(/[^a-z0-9, ._-]/g, '').slice(0, 40);
    throw new UnsupportedTypeError(
      `object is stored with Content-Encoding ${named}, which the worker does not decode (gzip, deflate or br, at most ${maxContentEncodings})`,
    );
  }
  const declared = Number(res.headers['content-length']);
  // An encoded body's length says little of the decoded size; a plain one's over the limit ends here.
  if (codings.length === 0 && Number.isFinite(declared) && declared > maxBytes) {
    discard(res.body);
    throw new TooLargeError(`object is ${declared} bytes, over the limit of ${maxBytes}`);
  }
  // Outermost first: the reverse of the order applied.
  return streamToFile(res.body, temp, maxBytes, url, signal, codings.reverse().map((c) => decoders[c]!()));
}

/**
 * Streams `body` (through `decoders`) into a fresh temp file; the limit counts the decoded bytes. Each
 * chunk is written as it comes with a synchronous write (the page cache takes it at once) and hashed:
 * a write stream's queue and callbacks, and a body gathered into one buffer first, cost measurably more.
 */
export async function streamToFile(
  body: Readable | AsyncIterable<Buffer> | Iterable<Buffer>, temp: TempDir, maxBytes: number, url: URL, signal: AbortSignal, decoders: Transform[] = [],
): Promise<DownloadedFile> {
  const path = temp.newFile();
  const hash = createHash('sha256');
  let size = 0;
  let fd: number | undefined;
  // Set when the limit ends the download: the pipeline may reject with the stages' abort instead.
  let tooLarge: TooLargeError | undefined;
  const write = async (chunks: AsyncIterable<Buffer> | Iterable<Buffer>) => {
    for await (const chunk of chunks) {
      size += chunk.length;
      if (size > maxBytes) throw (tooLarge = new TooLargeError(`object is over the limit of ${maxBytes} bytes`));
      for (let at = 0; at < chunk.length; ) at += writeSync(fd!, chunk, at);
      hash.update(chunk);
    }
  };
  try {
    fd = openSync(path, 'wx', 0o600);
    if (decoders.length === 0) await write(body);
    // pipeline's types know no array of a stream, transforms and a function; its documentation does.
    else await pipeline([body instanceof Readable ? body : Readable.from(body), ...decoders, write] as unknown as [NodeJS.ReadableStream, NodeJS.WritableStream]);
    return { path, sizeBytes: size, sha256: hash.digest('hex') };
  } catch (err) {
    if (body instanceof Readable) discard(body);
    for (const d of decoders) d.destroy();
    await temp.remove(path);
    if (tooLarge) throw tooLarge;
    // A zlib error (Z_DATA_ERROR, Z_BUF_ERROR when truncated) or a brotli one (ERR_BROTLI_…,
    // ERR__ERROR_FORMAT_…): the bytes arrived whole (a cut body is the transport's error) and do not decode.
    const code = (err as { code?: unknown })?.code;
    if (typeof code === 'string' && /^(Z_|ERR_BROTLI|ERR__ERROR_)/.test(code)) {
      throw new CorruptAssetError(`object's Content-Encoding does not decode (${messageOf(err).slice(0, 80)}) at ${redactUrl(url.href)}`, { cause: err });
    }
    throw transportError(err, url, signal);
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}
