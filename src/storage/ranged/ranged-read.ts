/**
 * Stage: download, by ranges where that is enough. The first request, `bytes=0-524287`, gives the size
 * (Content-Range) and most objects whole. A larger object over RANGED_READ_MIN_BYTES whose format has a
 * planner (MP4/MOV, PDF, DICOM, WAV) is read by it into a sparse file (`sha256Scope: 'partial'`: the hash
 * of the bytes fetched, in offset order); anything else reads on from where the first reply ended
 * (`'full'`). A store that ignores Range is read from its 200; an empty object (416, size 0) is a 0-byte
 * file. A store that sends neither ETag nor Last-Modified cannot show the object unchanged between
 * replies (http-range.ts): an object larger than the first reply is then read in one ordinary download.
 */
import { detectBuffer } from '../../detect/detect.js';
import { StorageUnavailableError, TooLargeError } from '../../errors.js';
import type { Detected } from '../../detect/detected.js';
import { streamResponse, streamToFile, type DownloadedFile, type Downloader, type DownloadLimits } from '../download.js';
import { createFetchContext, discard, parseUrl } from '../http-get.js';
import type { TempDir } from '../temp-dir.js';
import { redactUrl } from '../redact.js';
import { getRange, readReply, readSpan, restOf, type PartialReply, type RangeRequest } from './http-range.js';
import { planDicom } from '../../extractors/dicom/plan-dicom.js';
import { planIsoBmff } from '../../extractors/video/plan-isobmff.js';
import { planPdf } from '../../extractors/pdf/plan-pdf.js';
import { planWav } from '../../extractors/audio/plan-wav.js';
import { RangeBudgetExceeded, type RangeReader } from '../../extractors/range-plan.js';
import { SparseFile } from './sparse-file.js';

/** The least a planner may fetch whatever the object's size: detection's 64 KiB (detect.ts). */
export const headBytes = 64 * 1024;
/** The first range: most objects whole in one request; for a large one little more than its metadata needs. */
export const firstRangeBytes = 512 * 1024;
/** A plan that would fetch more than this share of the object gives up: the whole object is cheaper. */
const budgetShare = 0.25;

/** What the pipeline saves: the file, and whether its sha256 covers all of the object. */
export interface FetchedFile extends DownloadedFile {
  sha256Scope: 'full' | 'partial';
  /** Bytes that came over the network, when that is less than the object (a ranged read). */
  bytesFetched?: number;
}

/** The planner for a detected format, if its metadata lives in known places. */
function plannerFor({ ext, dataType }: Detected): ((src: RangeReader, headLength: number) => Promise<boolean>) | undefined {
  if (['mp4', 'mov', 'm4a', 'm4v', 'm4b', '3gp', '3g2'].includes(ext)) return planIsoBmff;
  return dataType === 'pdf' ? planPdf : dataType === 'dicom' ? planDicom : ext === 'wav' ? planWav : undefined;
}

/**
 * Reads the object at a URL, by ranges when it is over `minBytes` and its format has a planner. A guarded
 * downloader (a job's `url` source) checks every hop of every range; one without a pool reads whole.
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
  const req: RangeRequest = { ctx: createFetchContext(downloader.dispatcher, downloader.guard, limits), url: parseUrl(url) };
  const first = await getRange(req, 0, firstBytes - 1);
  if (first.kind === 'unusable') return full();
  if (first.kind === 'empty') return { ...(await streamToFile([], temp, 0, req.url, req.ctx.signal)), sha256Scope: 'full' };
  if (first.kind === 'whole') {
    return { ...(await streamResponse(first.res, temp, limits.maxBytes, first.url, req.ctx.signal)), sha256Scope: 'full' };
  }
  if (first.total > limits.maxBytes) {
    discard(first.body);
    throw new TooLargeError(`object is ${first.total} bytes, over the limit of ${limits.maxBytes}`);
  }
  // The reply may hold less than asked (a short 206): what follows starts from where it ended.
  if (first.end + 1 < first.total && !req.first?.etag && !req.first?.lastModified) {
    // Nothing would tell a replaced object's bytes from the first reply's: read it in one reply instead.
    discard(first.body);
    return full();
  }
  if (first.total > minBytes && first.end + 1 < first.total) {
    const head = await readReply(req, first);
    return (await tryRanged(req, temp, head, first.total)) ?? readRest(req, temp, head, first.total);
  }
  return writeFrom(req, temp, first, first.total);
}

async function tryRanged(req: RangeRequest, temp: TempDir, head: Buffer, total: number): Promise<FetchedFile | undefined> {
  const detected = await detectBuffer(head).catch(() => undefined);
  const planner = detected && plannerFor(detected);
  if (!planner) return undefined;
  const sparse = await SparseFile.create(temp, total, (start, end) => readSpan(req, start, end), Math.max(headBytes, total * budgetShare));
  let keep = false;
  try {
    await sparse.write(0, head);
    const ok = await planner(sparse, head.length).catch((err: unknown) => {
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

/** The head already read, then the rest of the object (in several replies, or a 200 read whole), hashed. */
async function readRest(req: RangeRequest, temp: TempDir, head: Buffer, total: number): Promise<FetchedFile> {
  const next = await getRange(req, head.length);
  if (next.kind === 'whole') {
    return { ...(await streamResponse(next.res, temp, req.ctx.limits.maxBytes, next.url, req.ctx.signal)), sha256Scope: 'full' };
  }
  if (next.kind !== 'partial') throw new StorageUnavailableError(`the store stopped answering ranges at ${redactUrl(req.url.href)}`);
  return writeFrom(req, temp, next, total, head);
}

/**
 * The object from a partial reply to its end (after `head`, the bytes before it, when they were read),
 * written to the temp file as it arrives; the rest asked for where each reply ends.
 */
async function writeFrom(req: RangeRequest, temp: TempDir, from: PartialReply, total: number, head?: Buffer): Promise<FetchedFile> {
  async function* chunks(): AsyncGenerator<Buffer> {
    if (head) yield head;
    yield* restOf(req, from, total);
  }
  try {
    return { ...(await streamToFile(chunks(), temp, total, req.url, req.ctx.signal)), sha256Scope: 'full' };
  } finally {
    // restOf discards the reply it is on; this one, if the writing never began.
    discard(from.body);
  }
}
