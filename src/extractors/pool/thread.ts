/**
 * Entry point of one extraction thread: detect and extract files the parent names, one at a time.
 * Untrusted bytes are parsed here, away from the worker's event loop (so BullMQ's lock renewal never
 * starves) and inside a V8 heap limit; the parent kills this thread when it runs over its time.
 */
import { rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { parentPort } from 'node:worker_threads';
import sharp from 'sharp';
import type { ExtractConfig } from '../../config.js';
import { AssetResultSchema } from '../../contract.js';
import { CorruptAssetError, boundedMessage, isAssetError, messageOf, type AssetError } from '../../errors.js';
import type { Extracted } from '../extractor.js';
import { extractFile, hashAndExtract, type FileFacts } from '../extract-file.js';
import { extractors } from '../registry.js';

export interface ThreadRequest {
  id: number;
  path: string;
  config: ExtractConfig;
  /** Also read and hash the file, in the same read as detection (`asset-meta probe`, the benchmark). */
  hash?: boolean;
  /** Remove the file once read, before replying (the pool removes it when no reply comes). */
  remove?: boolean;
}

/** Only the code, a bounded message and what was detected cross to the parent: never a cause or a stack. */
type SerializedError = Pick<AssetError, 'code' | 'message' | 'detected'>;

/** `file` is set for hash requests, on success and on failure alike (once the file was read); `kept`: a `remove` failed. */
export type ThreadReply = { id: number; file?: FileFacts; kept?: true } & ({ ok: true; value: Extracted } | { ok: false; error: SerializedError });

/** An error nobody handled here, with the job it happened during: the parent fails it and retires the thread. */
export type ThreadFault = { fault: true; id?: number; message: string };

// Process-wide settings for this thread: no cache of decoded data, one libvips thread per job.
sharp.cache(false);
sharp.concurrency(1);

/**
 * pdf.js's legacy build requires @napi-rs/canvas as it loads, for DOMMatrix, ImageData and Path2D, which
 * only rendering uses. Nothing here renders, and that native library (Skia) cost each thread 10-25 MB of
 * RSS and ~150 ms of CPU: the require gets inert stand-ins (pdf.js constructs one DOMMatrix as it loads).
 */
const nodeModule = createRequire(import.meta.url)('node:module') as { _load: (request: string, ...rest: unknown[]) => unknown };
const load = nodeModule._load;
class NotRendered {}
const createCanvas = (): never => {
  throw new Error('pdf.js rendering is not available in an extraction thread');
};
const canvasStandIn = { DOMMatrix: NotRendered, ImageData: NotRendered, Path2D: NotRendered, createCanvas };
nodeModule._load = function loadWithoutCanvas(this: unknown, request: string, ...rest: unknown[]) {
  return request === '@napi-rs/canvas' ? canvasStandIn : load.call(this, request, ...rest);
};

const port = parentPort;
if (!port) throw new Error('thread.ts runs as a worker thread only');

/** The job this thread is running: a fault while it runs is that job's. */
let current: number | undefined;

/**
 * Unhandled rejections and uncaught exceptions go to the parent as a ThreadFault: the job running fails now
 * with a code instead of at its timeout, and Node's default (the whole error, cause and all, serialised to
 * the parent) is avoided. pdf.js rejects internal promises nobody awaits on some broken xref tables.
 */
const reportFault = (kind: string) => (reason: unknown) =>
  port.postMessage({ fault: true, ...(current !== undefined ? { id: current } : {}), message: `${kind}: ${messageOf(reason)}` } satisfies ThreadFault);
process.on('unhandledRejection', reportFault('unhandled rejection in an extraction thread'));
process.on('uncaughtException', reportFault('uncaught exception in an extraction thread'));

/** A section the contract refuses (a negative duration, a zero width) means the bytes are corrupt. */
function checked(extracted: Extracted): Extracted {
  const parsed = AssetResultSchema.shape[extracted.dataType].unwrap().safeParse(extracted.section);
  if (parsed.success) return extracted;
  const issues = parsed.error.issues.map((i) => `${[extracted.dataType, ...i.path].join('.')}: ${i.message}`).join('; ');
  const err = new CorruptAssetError(`the ${extracted.dataType} metadata read from this file is not valid: ${issues}`);
  err.detected = { dataType: extracted.dataType, mimeType: extracted.mimeType };
  throw err;
}

function serialized(err: unknown): SerializedError {
  return isAssetError(err)
    ? { code: err.code, message: boundedMessage(err.message), ...(err.detected ? { detected: err.detected } : {}) }
    : { code: 'CORRUPT_ASSET', message: messageOf(err) };
}

async function handle(req: ThreadRequest): Promise<ThreadReply> {
  let facts = {};
  try {
    if (!req.hash) return { id: req.id, ok: true, value: checked(await extractFile(req.path, req.config)) };
    const { file, extracted, error } = await hashAndExtract(req.path, req.config);
    if (file) facts = { file };
    if (!extracted) throw error;
    return { id: req.id, ok: true, value: checked(extracted), ...facts };
  } catch (err) {
    return { id: req.id, ok: false, error: serialized(err), ...facts };
  }
}

/** Asked as a replica starts: load every extractor's modules, so that no job waits for them (pdf.js ~0.5 s). */
export interface ThreadWarm {
  id: number;
  warm: true;
}

port.on('message', (req: ThreadRequest | ThreadWarm) => {
  if ('warm' in req) {
    // Answered either way: a module that fails to load must not leave the replica waiting on its start.
    void Promise.all(Object.values(extractors).map((load) => load())).then(
      () => port.postMessage({ id: req.id, warmed: true }),
      (err: unknown) => port.postMessage({ id: req.id, warmed: false, message: messageOf(err) }),
    );
    return;
  }
  current = req.id;
  // Cleared once the reply is out: a reply that cannot be posted leaves a fault that is still this job's.
  void handle(req).then((reply) => {
    // Removed here, with no hop to another thread and back; a file this cannot remove is left to the pool.
    try {
      if (req.remove) rmSync(req.path, { force: true });
    } catch {
      reply.kept = true;
    }
    port.postMessage(reply);
    current = undefined;
  });
});

// This thread's modules are loaded: a job's time starts now, not at spawn.
port.postMessage({ ready: true });
