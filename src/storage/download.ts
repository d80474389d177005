/**
 * Stage: download. Streams a URL into a fresh temp file (mode 0600), hashing and counting on the way.
 * The size limit is enforced on the bytes received (decoded, for an object stored with a Content-Encoding:
 * content-encoding.ts), never on Content-Length alone; a stall (no byte for stallTimeoutMs) and the total
 * time are bounded. Redirects, throttling and what is trusted: http-get.ts. On any failure the partial file
 * is removed here.
 */
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Agent, type Dispatcher } from 'undici';
import { CorruptAssetError, TooLargeError, messageOf, type AssetError } from '../errors.js';
import { decodersFor, isDecodeError } from './content-encoding.js';
import { createFetchContext, discard, get, parseUrl, statusError, transportError, type DownloadLimits } from './http-get.js';
import { redactUrl } from './redact.js';
import type { TempDir } from './temp-dir.js';
import type { UrlGuard } from './url-guard.js';

export { discard, maxRedirects, statusError, transportError, type DownloadLimits } from './http-get.js';

export interface DownloadedFile {
  path: string;
  sizeBytes: number;
  sha256: string;
}

export interface Downloader {
  download(url: string, temp: TempDir, limits: DownloadLimits): Promise<DownloadedFile>;
  close(): Promise<void>;
  /** The connection pool, for ranged reads (storage/ranged/). */
  readonly dispatcher?: Dispatcher;
  /** Present on a downloader for untrusted URLs: ranged reads check every hop of every range with it. */
  readonly guard?: UrlGuard;
}

/**
 * A downloader for URLs the worker signed itself (trusted endpoints) or, with a guard, for URLs that came
 * in a job (untrusted: every hop's scheme, host, port and addresses are checked).
 */
export function createDownloader(guard?: UrlGuard): Downloader {
  const agent = new Agent({
    ...(guard ? { connect: { lookup: guard.lookup } } : {}),
    keepAliveTimeout: 10_000,
  });
  return {
    download: (url, temp, limits) => downloadWith(agent, guard, url, temp, limits),
    close: () => agent.close(),
    dispatcher: agent,
    ...(guard ? { guard } : {}),
  };
}

async function downloadWith(
  dispatcher: Dispatcher,
  guard: UrlGuard | undefined,
  url: string,
  temp: TempDir,
  limits: DownloadLimits,
): Promise<DownloadedFile> {
  const ctx = createFetchContext(dispatcher, guard, limits);
  const { res, url: at } = await get(ctx, parseUrl(url));
  if (res.statusCode !== 200) {
    discard(res.body);
    throw statusError(res.statusCode, at);
  }
  return streamResponse(res, temp, limits.maxBytes, at, ctx.signal);
}

/** Streams a 200 response's body to a temp file, decoding its Content-Encoding if it has one. */
export async function streamResponse(
  res: Dispatcher.ResponseData,
  temp: TempDir,
  maxBytes: number,
  url: URL,
  signal: AbortSignal,
): Promise<DownloadedFile> {
  let decoders: Transform[];
  try {
    decoders = decodersFor(res.headers['content-encoding']);
  } catch (err) {
    discard(res.body);
    throw err;
  }
  const declared = Number(res.headers['content-length']);
  // An encoded body's length says little of the decoded size; a plain one's over the limit ends here.
  if (decoders.length === 0 && Number.isFinite(declared) && declared > maxBytes) {
    discard(res.body);
    throw new TooLargeError(`object is ${declared} bytes, over the limit of ${maxBytes}`);
  }
  return streamToFile(res.body, temp, maxBytes, url, signal, decoders);
}

export async function streamToFile(
  body: NodeJS.ReadableStream & { destroy(err?: Error): void },
  temp: TempDir,
  maxBytes: number,
  url: URL,
  signal: AbortSignal,
  /** Content-Encoding decoders, outermost first (content-encoding.ts); the limit counts decoded bytes. */
  decoders: Transform[] = [],
): Promise<DownloadedFile> {
  const path = temp.newFile();
  const hash = createHash('sha256');
  let size = 0;
  const meter = new Transform({
    transform(chunk: Buffer, _enc, done) {
      size += chunk.length;
      if (size > maxBytes) return done(new TooLargeError(`object is over the limit of ${maxBytes} bytes`));
      hash.update(chunk);
      done(null, chunk);
    },
  });
  try {
    await pipeline([body, ...decoders, meter, createWriteStream(path, { flags: 'wx', mode: 0o600 })]);
    return { path, sizeBytes: size, sha256: hash.digest('hex') };
  } catch (err) {
    body.on('error', () => {});
    body.destroy();
    for (const d of decoders) d.destroy();
    await temp.remove(path);
    throw asStreamError(err, url, signal);
  }
}

function asStreamError(err: unknown, url: URL, signal: AbortSignal): AssetError {
  if (!isDecodeError(err)) return transportError(err, url, signal);
  // The bytes arrived whole (a cut body is the transport's error) and do not decode: the object is corrupt.
  return new CorruptAssetError(`object's Content-Encoding does not decode (${messageOf(err).slice(0, 80)}) at ${redactUrl(url.href)}`, { cause: err });
}
