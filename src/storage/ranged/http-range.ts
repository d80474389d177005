/**
 * One HTTP Range request (RFC 9110 §14) for a URL the worker signed. Always an explicit `bytes=a-b` or
 * `bytes=a-`: suffix ranges (`bytes=-N`) are answered wrongly by some stores (s3rver returns the first
 * N bytes, Azurite a malformed response). Redirects are not followed here; the caller reads the object
 * the ordinary way instead.
 */
import { errors as undiciErrors, request, type Dispatcher } from 'undici';
import { StorageUnavailableError } from '../../errors.js';
import { discard, statusError, transportError, type DownloadLimits } from '../download.js';
import { redactUrl } from '../redact.js';

export type RangeReply =
  /** 206: `body` holds bytes from `start`; `total` is the object's size from Content-Range. */
  | { kind: 'partial'; start: number; total: number; etag: string | undefined; body: Dispatcher.ResponseData['body'] }
  /** 200: the store ignored the Range header and sends the whole object. */
  | { kind: 'whole'; body: Dispatcher.ResponseData['body'] }
  /** A redirect, an empty object (416) or a 206 without a usable Content-Range: read it the ordinary way. */
  | { kind: 'unusable' };

export interface RangeRequest {
  dispatcher: Dispatcher;
  url: URL;
  limits: DownloadLimits;
  signal: AbortSignal;
  /** Sent as If-Match on later requests, so that an object replaced meanwhile is not stitched together. */
  etag?: string | undefined;
}

/** GETs bytes [start, end] (inclusive, as the header counts) or [start, end of object) without `end`. */
export async function getRange(
  req: RangeRequest,
  start: number,
  end?: number,
  /**
   * Some stores drop the connection on a range of an empty object instead of answering 416 (s3rver
   * does): for the first request, that is read as "ask without a range".
   */
  options: { closedIsUnusable?: boolean } = {},
): Promise<RangeReply> {
  let res: Dispatcher.ResponseData;
  try {
    res = await request(req.url, {
      dispatcher: req.dispatcher,
      method: 'GET',
      signal: req.signal,
      headers: { range: `bytes=${start}-${end ?? ''}`, ...(req.etag ? { 'if-match': req.etag } : {}) },
      headersTimeout: req.limits.stallTimeoutMs,
      bodyTimeout: req.limits.stallTimeoutMs,
    });
  } catch (err) {
    if (options.closedIsUnusable && err instanceof undiciErrors.SocketError) return { kind: 'unusable' };
    throw transportError(err, req.url, req.signal);
  }
  if (res.statusCode === 200) return { kind: 'whole', body: res.body };
  if (res.statusCode === 206) {
    const range = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(String(res.headers['content-range'] ?? ''));
    if (range && Number(range[1]) === start) {
      const etag = res.headers.etag;
      return { kind: 'partial', start, total: Number(range[3]), etag: typeof etag === 'string' ? etag : undefined, body: res.body };
    }
    discard(res.body);
    return { kind: 'unusable' };
  }
  discard(res.body);
  if ((res.statusCode >= 300 && res.statusCode < 400) || res.statusCode === 416) return { kind: 'unusable' };
  if (res.statusCode === 412) {
    // The object changed between our requests: a retry reads the new one from the start.
    throw new StorageUnavailableError(`object changed while it was read by ranges at ${redactUrl(req.url.href)}`);
  }
  throw statusError(res.statusCode, req.url);
}

/** Reads a partial reply's body into memory, checking it holds exactly `length` bytes. */
export async function readExactly(body: Dispatcher.ResponseData['body'], length: number, req: RangeRequest): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let got = 0;
  try {
    for await (const chunk of body as AsyncIterable<Buffer>) {
      got += chunk.length;
      if (got > length) break;
      chunks.push(chunk);
    }
  } catch (err) {
    throw transportError(err, req.url, req.signal);
  }
  if (got !== length) {
    discard(body);
    throw transportError(new Error(`range reply has ${got} bytes, expected ${length}`), req.url, req.signal);
  }
  return Buffer.concat(chunks, length);
}
