/**
 * HTTP Range requests (RFC 9110 §14), always `bytes=a-b` or `bytes=a-` (s3rver and Azurite answer suffix
 * ranges wrongly). Every later reply's validators (ETag, size, Last-Modified) must equal the first's, or a
 * store that ignores If-Match would stitch two versions into one file: a difference is a retriable
 * "object changed". If-Match is sent with a strong ETag only (a weak one fails RFC 9110's strong compare).
 */
import type { Dispatcher } from 'undici';
import { StorageUnavailableError } from '../../errors.js';
import { RangeBudgetExceeded } from '../../extractors/range-plan.js';
import { codingsOf } from '../download.js';
import { discard, get, statusError, transportError, type FetchContext } from '../http-get.js';
import { redactUrl } from '../redact.js';

type Body = Dispatcher.ResponseData['body'];

export type RangeReply =
  /** 206: bytes [start, end] (inclusive), maybe short of the range asked for (RFC 9110 §15.3.7); `total` is the object's size. */
  | { kind: 'partial'; start: number; end: number; total: number; body: Body }
  /** 200: the store ignored the Range header and sends the whole object. */
  | { kind: 'whole'; res: Dispatcher.ResponseData; url: URL }
  /** The object has no bytes: 416 for a range from 0 with a Content-Range of size 0, or a 206 that says size 0. */
  | { kind: 'empty' }
  /** A 206 without a usable Content-Range, or an encoded body (ranges of an encoding): read the ordinary way. */
  | { kind: 'unusable' };

export type PartialReply = Extract<RangeReply, { kind: 'partial' }>;

export interface RangeRequest {
  ctx: FetchContext;
  url: URL;
  /** What the first reply said of the object; every later reply is checked against it. */
  first?: { etag: string | undefined; lastModified: string | undefined; total: number };
}

const header = (value: unknown): string | undefined => (typeof value === 'string' && value.length <= 256 ? value : undefined);
const isWeak = (etag: string) => /^W\//i.test(etag);
/** RFC 9110 §8.8.3.2 weak comparison: the opaque tags match, whatever their W/ prefixes. */
const sameTag = (a: string, b: string) => a.replace(/^W\//i, '') === b.replace(/^W\//i, '');

/** GETs bytes [start, end] (inclusive, as the header counts) or [start, end of object) without `end`. */
export async function getRange(req: RangeRequest, start: number, end?: number): Promise<RangeReply> {
  const etag = req.first?.etag;
  const headers: Record<string, string> = { range: `bytes=${start}-${end ?? ''}`, ...(etag && !isWeak(etag) ? { 'if-match': etag } : {}) };
  const { res, url } = await get(req.ctx, req.url, headers);
  try {
    if (res.statusCode === 200) {
      checkSame(req, res.headers, undefined);
      return { kind: 'whole', res, url };
    }
    if (res.statusCode === 206) return partial(req, res, start, end, url);
    discard(res.body);
    if (res.statusCode === 416) return unsatisfiable(req, res, start, url);
    // The store compared our If-Match with a newer version: a retry reads the new one from the start.
    if (res.statusCode === 412) throw changed(url, 'If-Match refused');
    throw statusError(res.statusCode, url);
  } catch (err) {
    discard(res.body);
    throw err;
  }
}

function partial(req: RangeRequest, res: Dispatcher.ResponseData, start: number, end: number | undefined, url: URL): RangeReply {
  const range = /^bytes (\d{1,15})-(\d{1,15})\/(\d{1,15})$/.exec(String(res.headers['content-range'] ?? ''));
  const [first, last, total] = range ? [Number(range[1]), Number(range[2]), Number(range[3])] : [];
  if (total === 0) {
    // s3rver answers a range of an empty object with `bytes 0-0/0` and a body it never sends.
    discard(res.body);
    if (req.first) throw changed(url, 'it is empty now');
    return { kind: 'empty' };
  }
  if (first === undefined || last === undefined || total === undefined || codingsOf(res.headers['content-encoding']).length > 0) {
    discard(res.body);
    return { kind: 'unusable' };
  }
  if (first !== start || last < first || last >= total || (end !== undefined && last > end)) {
    throw new StorageUnavailableError(`range reply for bytes ${start}-${end ?? ''} says bytes ${first}-${last}/${total} at ${redactUrl(url.href)}`);
  }
  checkSame(req, res.headers, total);
  req.first ??= { etag: header(res.headers.etag), lastModified: header(res.headers['last-modified']), total };
  return { kind: 'partial', start, end: last, total, body: res.body };
}

/**
 * 416: a range from byte 0 is unsatisfiable only for an empty object (RFC 9110 §14.1.1), which object
 * stores say with a Content-Range of size 0 (`bytes *` then `/0`); without that header the store is asked
 * the ordinary way. For a later range, the object shrank.
 */
function unsatisfiable(req: RangeRequest, res: Dispatcher.ResponseData, start: number, url: URL): RangeReply {
  const size = /^bytes \*\/(\d{1,15})$/.exec(String(res.headers['content-range'] ?? ''));
  if (req.first) throw changed(url, 'a range inside it is no longer satisfiable');
  if (start === 0 && size?.[1] === '0') return { kind: 'empty' };
  if (start === 0 && !size) return { kind: 'unusable' };
  throw new StorageUnavailableError(`storage answered HTTP 416 for a range from byte ${start} at ${redactUrl(url.href)}`);
}

/** Throws "object changed" when a later reply's validators differ from the first reply's. */
function checkSame(req: RangeRequest, headers: Dispatcher.ResponseData['headers'], total: number | undefined): void {
  const first = req.first;
  if (!first) return;
  const etag = header(headers.etag);
  const lastModified = header(headers['last-modified']);
  if (total !== undefined && total !== first.total) throw changed(req.url, `its size went from ${first.total} to ${total} bytes`);
  if ((etag === undefined) !== (first.etag === undefined) || (etag && first.etag && !sameTag(etag, first.etag))) {
    throw changed(req.url, 'its ETag differs');
  }
  if (lastModified && first.lastModified && lastModified !== first.lastModified) throw changed(req.url, 'its Last-Modified differs');
}

function changed(url: URL, why: string): StorageUnavailableError {
  return new StorageUnavailableError(`object changed while it was read by ranges (${why}) at ${redactUrl(url.href)}`);
}

/** A partial reply's bytes, checked to be exactly the range its Content-Range says. */
async function* bytesOf(reply: PartialReply): AsyncGenerator<Buffer> {
  const expected = reply.end - reply.start + 1;
  let got = 0;
  for await (const chunk of reply.body as AsyncIterable<Buffer>) {
    got += chunk.length;
    if (got > expected) throw new Error(`range reply has more than ${expected} bytes`);
    yield chunk;
  }
  if (got !== expected) throw new Error(`range reply has ${got} bytes, expected ${expected}`);
}

/** A partial reply's bytes in memory. */
export async function readReply(req: RangeRequest, reply: PartialReply): Promise<Buffer> {
  const chunks: Buffer[] = [];
  try {
    for await (const chunk of bytesOf(reply)) chunks.push(chunk);
  } catch (err) {
    discard(reply.body);
    throw transportError(err, req.url, req.ctx.signal);
  }
  return Buffer.concat(chunks);
}

/** Replies one span may take when a store answers it in short pieces. */
export const maxRepliesPerSpan = 4096;

/**
 * Bytes [start, end) of the object, in as many replies as the store sends them in (short 206s are asked
 * for the rest). A store that stops answering ranges (200 or an unusable 206) ends the plan: read whole.
 */
export async function readSpan(req: RangeRequest, start: number, end: number): Promise<Buffer> {
  const pieces: Buffer[] = [];
  for (let at = start, replies = 0; at < end; replies++) {
    if (replies >= maxRepliesPerSpan) {
      throw new StorageUnavailableError(`store answered bytes ${start}-${end - 1} in more than ${maxRepliesPerSpan} replies at ${redactUrl(req.url.href)}`);
    }
    const reply = await getRange(req, at, end - 1);
    if (reply.kind === 'whole') discard(reply.res.body);
    if (reply.kind !== 'partial') throw new RangeBudgetExceeded('the store stopped answering ranges');
    pieces.push(await readReply(req, reply));
    at = reply.end + 1;
  }
  return Buffer.concat(pieces, end - start);
}

/** The object's bytes from a partial reply's start to its end, over as many replies as the store sends. */
export async function* restOf(req: RangeRequest, first: PartialReply, total: number): AsyncGenerator<Buffer> {
  let current = first;
  try {
    for (let replies = 1; ; replies++) {
      yield* bytesOf(current);
      if (current.end + 1 >= total) return;
      if (replies >= maxRepliesPerSpan) throw new StorageUnavailableError(`store answered the rest of the object in more than ${maxRepliesPerSpan} replies`);
      const more = await getRange(req, current.end + 1);
      if (more.kind === 'whole') discard(more.res.body);
      if (more.kind !== 'partial') throw new StorageUnavailableError(`the store stopped answering ranges at ${redactUrl(req.url.href)}`);
      current = more;
    }
  } finally {
    discard(current.body);
  }
}
