/**
 * Stage: download. Streams a URL into a fresh temp file (mode 0600), hashing and counting on the way.
 * The size limit is enforced on the bytes received, never on Content-Length; a stall (no byte for
 * stallTimeoutMs) and the total time are bounded. On any failure the partial file is removed here.
 */
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Agent, errors as undiciErrors, request, type Dispatcher } from 'undici';
import {
  AccessDeniedError,
  AssetError,
  DownloadTimeoutError,
  NotFoundError,
  StorageUnavailableError,
  TooLargeError,
  UrlNotAllowedError,
  messageOf,
} from '../errors.js';
import { redactUrl } from './redact.js';
import type { TempDir } from './temp-dir.js';
import type { UrlGuard } from './url-guard.js';

export interface DownloadLimits {
  maxBytes: number;
  timeoutMs: number;
  stallTimeoutMs: number;
  /** Objects over this many bytes are read by ranges where the format allows (ranged/); default 16 MiB. */
  rangedReadMinBytes?: number;
}

export interface DownloadedFile {
  path: string;
  sizeBytes: number;
  sha256: string;
}

/** Redirects followed at most; each hop is checked by the guard again. */
export const maxRedirects = 5;

export interface Downloader {
  download(url: string, temp: TempDir, limits: DownloadLimits): Promise<DownloadedFile>;
  close(): Promise<void>;
  /** The connection pool, for ranged reads of URLs the worker signed itself (storage/ranged/); absent when guarded. */
  readonly dispatcher?: Dispatcher;
}

/**
 * A downloader for URLs the worker signed itself (trusted endpoints) or, with a guard, for URLs that came
 * in a job (untrusted: every hop's scheme and addresses are checked).
 */
export function createDownloader(guard?: UrlGuard): Downloader {
  const agent = new Agent({
    ...(guard ? { connect: { lookup: guard.lookup } } : {}),
    keepAliveTimeout: 10_000,
  });
  return {
    download: (url, temp, limits) => downloadWith(agent, guard, url, temp, limits),
    close: () => agent.close(),
    // A guarded pool checks every hop; ranged reads follow no redirects, so they get only the trusted one.
    ...(guard ? {} : { dispatcher: agent }),
  };
}

async function downloadWith(
  dispatcher: Dispatcher,
  guard: UrlGuard | undefined,
  url: string,
  temp: TempDir,
  limits: DownloadLimits,
): Promise<DownloadedFile> {
  const total = AbortSignal.timeout(limits.timeoutMs);
  let current = new URL(url);
  for (let hop = 0; ; hop++) {
    if (guard) await guard.check(current);
    const res = await send(dispatcher, current, total, limits);
    if (res.statusCode >= 300 && res.statusCode < 400 && res.headers.location) {
      discard(res.body);
      // A redirect chain this long is a loop or a trap, and asking again follows the same chain: permanent.
      if (hop >= maxRedirects) throw new UrlNotAllowedError(`more than ${maxRedirects} redirects from ${redactUrl(url)}`);
      current = new URL(String(res.headers.location), current);
      continue;
    }
    if (res.statusCode !== 200) {
      discard(res.body);
      throw statusError(res.statusCode, current);
    }
    const declared = Number(res.headers['content-length']);
    if (Number.isFinite(declared) && declared > limits.maxBytes) {
      discard(res.body);
      throw new TooLargeError(`object is ${declared} bytes, over the limit of ${limits.maxBytes}`);
    }
    return streamToFile(res.body, temp, limits.maxBytes, current, total);
  }
}

/** Drops a response body we will not read; its abort must not surface as an unhandled error. */
export function discard(body: Dispatcher.ResponseData['body']): void {
  body.on('error', () => {});
  body.destroy();
}

async function send(dispatcher: Dispatcher, url: URL, signal: AbortSignal, limits: DownloadLimits) {
  try {
    return await request(url, {
      dispatcher,
      method: 'GET',
      signal,
      headersTimeout: limits.stallTimeoutMs,
      bodyTimeout: limits.stallTimeoutMs,
    });
  } catch (err) {
    throw transportError(err, url, signal);
  }
}

export function statusError(status: number, url: URL): AssetError {
  const where = redactUrl(url.href);
  if (status === 404 || status === 410) return new NotFoundError(`object not found (HTTP ${status}) at ${where}`);
  if (status === 403) return new AccessDeniedError(`access denied (HTTP 403) at ${where}`);
  if (status === 429 || status >= 500) return new StorageUnavailableError(`storage answered HTTP ${status} at ${where}`);
  // 400, 401 and the rest: the store refuses this request as made; asking again will not change that.
  return new AccessDeniedError(`storage refused the request (HTTP ${status}) at ${where}`);
}

export function transportError(err: unknown, url: URL, signal: AbortSignal): AssetError {
  if (err instanceof AssetError) return err;
  // The guard's refusal arrives wrapped by the connection attempt.
  const cause = (err as { cause?: unknown })?.cause;
  if (cause instanceof UrlNotAllowedError) return cause;
  const where = redactUrl(url.href);
  if (signal.aborted) return new DownloadTimeoutError(`download exceeded its total time at ${where}`, { cause: err });
  if (err instanceof undiciErrors.HeadersTimeoutError || err instanceof undiciErrors.BodyTimeoutError) {
    return new DownloadTimeoutError(`download stalled at ${where}`, { cause: err });
  }
  const code = (err as NodeJS.ErrnoException)?.code;
  if (code === 'ENOSPC' || code === 'EDQUOT') {
    // Our disk, not the object: retriable (space frees as other jobs end), never a corrupt result.
    return new StorageUnavailableError(`temp disk full while downloading ${where}`, { cause: err });
  }
  return new StorageUnavailableError(`download failed at ${where}: ${messageOf(err)}`, { cause: err });
}

export async function streamToFile(
  body: NodeJS.ReadableStream & { destroy(err?: Error): void },
  temp: TempDir,
  maxBytes: number,
  url: URL,
  signal: AbortSignal,
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
    await pipeline(body, meter, createWriteStream(path, { flags: 'wx', mode: 0o600 }));
    return { path, sizeBytes: size, sha256: hash.digest('hex') };
  } catch (err) {
    body.on('error', () => {});
    body.destroy();
    await temp.remove(path);
    throw transportError(err, url, signal);
  }
}
