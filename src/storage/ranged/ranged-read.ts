/**
 * Stage: download, by ranges where that is enough. The first request is `GET bytes=0-524287`: its
 * Content-Range gives the object's size without a HEAD, and an object of up to 512 KiB (most images,
 * DICOM slices, documents) arrives whole in that one reply. Then:
 * - an object up to RANGED_READ_MIN_BYTES is read on from where the first reply ended (`bytes=524288-`)
 *   into an ordinary temp file, hashed whole (`sha256Scope: 'full'`);
 * - a larger object of a format whose metadata lives in known places (MP4/MOV, PDF, DICOM, WAV) is read
 *   by its planner into a sparse temp file of the full size; `sha256` is of the bytes fetched, in offset
 *   order (`sha256Scope: 'partial'`);
 * - any other format, or a planner that is unsure (or would fetch more than a quarter of the object),
 *   reads the rest of the object as the first case does.
 * A store that ignores Range (200 with the whole body) is read as an ordinary download, from that reply.
 * An empty object (416 for the first range, with a Content-Range of size 0, as object stores answer) is a
 * 0-byte file at once: extraction then says what it says of any empty file (UNSUPPORTED_TYPE "empty
 * file"), the same from every store as from a local file.
 * Every request follows redirects and waits out throttling (../http-get.ts); every reply after the first
 * is checked to come from the same version of the object (http-range.ts). A store that sends neither an
 * ETag nor a Last-Modified gives nothing to check with: an object it holds that does not fit in the first
 * reply is read in one ordinary download instead.
 */
import { createHash, type Hash } from 'node:crypto';
import { createWriteStream, writeFileSync } from 'node:fs';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { detectBuffer } from '../../detect/detect.js';
import { StorageUnavailableError, TooLargeError } from '../../errors.js';
import type { Detected } from '../../detect/detected.js';
import { discard, streamResponse, type DownloadedFile, type Downloader, type DownloadLimits } from '../download.js';
import { createFetchContext, parseUrl, transportError } from '../http-get.js';
import type { TempDir } from '../temp-dir.js';
import { redactUrl } from '../redact.js';
import { getRange, readExactly, readSpan, restOf, type PartialReply, type RangeRequest } from './http-range.js';
import { planDicom } from '../../extractors/dicom/plan-dicom.js';
import { planIsoBmff } from '../../extractors/video/plan-isobmff.js';
import { planPdf } from '../../extractors/pdf/plan-pdf.js';
import { planWav } from '../../extractors/audio/plan-wav.js';
import { RangeBudgetExceeded } from '../../extractors/range-plan.js';
import { RangeSource } from './range-source.js';
import { SparseFile } from './sparse-file.js';

/** The least a planner may fetch whatever the object's size: detection's 64 KiB (detect.ts). */
export const headBytes = 64 * 1024;
/**
 * The first range. Each request costs a round trip and the store's per-request work, so the first one
 * takes whole the many objects that are small, in one request instead of two; for a large object read
 * by ranges it is at most 512 KiB more than the metadata needs (3% of an object just over the default
 * RANGED_READ_MIN_BYTES, 0.5% of 100 MB), and planners start with it held (an MP4's front moov, a DICOM
 * header, a PDF's first objects are often inside it).
 */
export const firstRangeBytes = 512 * 1024;
/** A plan that would fetch more than this share of the object gives up: the whole object is cheaper. */
const budgetShare = 0.25;

/** What the pipeline saves: the file, and whether its sha256 covers all of the object. */
export interface FetchedFile extends DownloadedFile {
  sha256Scope: 'full' | 'partial';
  /** Bytes that came over the network, when that is less than the object (a ranged read). */
  bytesFetched?: number;
}

type Planner = (src: RangeSource, headLength: number) => Promise<boolean>;

/** The planner for a detected format, if its metadata lives in known places. */
export function plannerFor(detected: Detected): Planner | undefined {
  if (['mp4', 'mov', 'm4a', 'm4v', 'm4b', '3gp', '3g2'].includes(detected.ext)) return planIsoBmff;
  if (detected.dataType === 'pdf') return planPdf;
  if (detected.dataType === 'dicom') return planDicom;
  if (detected.ext === 'wav') return planWav;
  return undefined;
}

/**
 * Reads the object at a URL, by ranges when it is over `minBytes` and its format has a planner; see the
 * module comment. With a guarded downloader (a job's `url` source) every hop of every request is checked;
 * a downloader without a connection pool makes it an ordinary download.
 */
export async function fetchForExtraction(
  downloader: Downloader,
  url: string,
  temp: TempDir,
  limits: DownloadLimits,
  minBytes: number,
  /** The first range's length (tests make it small, so that tiny fixtures go through the planners). */
  firstBytes: number = firstRangeBytes,
): Promise<FetchedFile> {
  const full = async () => ({ ...(await downloader.download(url, temp, limits)), sha256Scope: 'full' as const });
  if (!downloader.dispatcher) return full();
  // A guarded downloader (url sources) checks every hop of every range request, as its downloads do.
  const req: RangeRequest = { ctx: createFetchContext(downloader.dispatcher, downloader.guard, limits), url: parseUrl(url) };
  const first = await getRange(req, 0, firstBytes - 1);
  if (first.kind === 'unusable') return full();
  if (first.kind === 'empty') return writeWhole(req, temp, Buffer.alloc(0));
  if (first.kind === 'whole') {
    return { ...(await streamResponse(first.res, temp, limits.maxBytes, first.url, req.ctx.signal)), sha256Scope: 'full' };
  }
  if (first.total > limits.maxBytes) {
    discard(first.body);
    throw new TooLargeError(`object is ${first.total} bytes, over the limit of ${limits.maxBytes}`);
  }
  // The reply may hold less than asked (a short 206): what follows starts from where it ended.
  const head = await readExactly(first.body, first.end + 1, req);
  if (head.length < first.total && !req.first?.etag && !req.first?.lastModified) {
    // Nothing would tell a replaced object's bytes from the first reply's: read it in one reply instead.
    return full();
  }
  if (first.total > minBytes && first.total > head.length) {
    const planned = await tryRanged(req, temp, head, first.total);
    if (planned) return planned;
  }
  return readRest(req, temp, head, first.total);
}

async function tryRanged(req: RangeRequest, temp: TempDir, head: Buffer, total: number): Promise<FetchedFile | undefined> {
  const detected = await detectBuffer(head).catch(() => undefined);
  const planner = detected && plannerFor(detected);
  if (!planner) return undefined;
  const sparse = await SparseFile.create(temp, total);
  let keep = false;
  try {
    await sparse.write(0, head);
    const fetchSpan = async (start: number, end: number) => {
      const bytes = await readSpan(req, start, end);
      if (!bytes) throw new RangeBudgetExceeded('the store stopped answering ranges');
      return bytes;
    };
    const ok = await planner(new RangeSource(sparse, fetchSpan, Math.max(headBytes, total * budgetShare)), head.length).catch((err: unknown) => {
      if (err instanceof RangeBudgetExceeded) return false;
      throw err;
    });
    if (!ok) return undefined;
    keep = true;
    return { path: sparse.path, sizeBytes: total, sha256: await sparse.sha256(), sha256Scope: 'partial', bytesFetched: sparse.heldBytes };
  } finally {
    await sparse.close();
    if (!keep) await temp.remove(sparse.path);
  }
}

/**
 * An object that came whole in the first range (most do: it is 512 KiB): one synchronous write and one
 * hash of the buffer. A stream pipeline for it cost ~0.5 ms of CPU a file (stream set-up, an AbortError
 * made at every pipeline's end, an async open, write and close), about a tenth of a replica's own work.
 */
async function writeWhole(req: RangeRequest, temp: TempDir, head: Buffer): Promise<FetchedFile> {
  const path = temp.newFile();
  try {
    writeFileSync(path, head, { flag: 'wx', mode: 0o600 });
  } catch (err) {
    await temp.remove(path);
    throw transportError(err, req.url, req.ctx.signal);
  }
  return { path, sizeBytes: head.length, sha256: createHash('sha256').update(head).digest('hex'), sha256Scope: 'full' };
}

/**
 * Writes the head already read, then streams the rest of the object after it, hashing all of it. The rest
 * may come in several replies (a store that sends short 206s); a store that answers the rest with 200 is
 * read from that reply alone, whole.
 */
async function readRest(req: RangeRequest, temp: TempDir, head: Buffer, total: number): Promise<FetchedFile> {
  if (head.length === total) return writeWhole(req, temp, head);
  const next = await getRange(req, head.length);
  if (next.kind === 'whole') {
    return { ...(await streamResponse(next.res, temp, req.ctx.limits.maxBytes, next.url, req.ctx.signal)), sha256Scope: 'full' };
  }
  if (next.kind !== 'partial') throw new StorageUnavailableError(`the store stopped answering ranges at ${redactUrl(req.url.href)}`);
  const rest: PartialReply = next;
  async function* body(): AsyncGenerator<Buffer> {
    yield head;
    yield* restOf(req, rest, total);
  }
  const path = temp.newFile();
  const hash: Hash = createHash('sha256');
  let size = 0;
  const meter = new Transform({
    transform(chunk: Buffer, _enc, done) {
      size += chunk.length;
      if (size > total) return done(new Error(`object grew past ${total} bytes while read`));
      hash.update(chunk);
      done(null, chunk);
    },
  });
  try {
    // One pipeline from the first byte, so that a write error (ENOSPC) has a listener at every moment.
    await pipeline(body(), meter, createWriteStream(path, { flags: 'wx', mode: 0o600 }));
    if (size !== total) throw new Error(`object ended at ${size} of ${total} bytes`);
    return { path, sizeBytes: size, sha256: hash.digest('hex'), sha256Scope: 'full' };
  } catch (err) {
    // restOf discards the reply it is on; this one, if the pipeline never started reading.
    discard(rest.body);
    await temp.remove(path);
    throw transportError(err, req.url, req.ctx.signal);
  }
}
