/**
 * Entry point of one extraction thread: detect and extract files the parent names, one at a time.
 * Untrusted bytes are parsed here, away from the worker's event loop (so BullMQ's lock renewal never
 * starves) and inside a V8 heap limit; the parent kills this thread when it runs over its time.
 */
import { parentPort } from 'node:worker_threads';
import sharp from 'sharp';
import type { ExtractConfig } from '../config.js';
import {
  AudioInfoSchema,
  DicomInfoSchema,
  ImageInfoSchema,
  PdfInfoSchema,
  TextInfoSchema,
  VideoInfoSchema,
  type DataType,
} from '../contract.js';
import { CorruptAssetError, isAssetError, messageOf, type DetectedType } from '../errors.js';
import type { Extracted } from './extractor.js';
import { extractFile } from './extract-file.js';

export interface ThreadRequest {
  id: number;
  path: string;
  config: ExtractConfig;
}

export type ThreadReply =
  | { id: number; ok: true; value: Awaited<ReturnType<typeof extractFile>> }
  | { id: number; ok: false; error: { code: string; message: string; detected?: DetectedType } };

/** Sent once, when this thread's modules are loaded: a job's time starts then, not at spawn. */
export interface ThreadReady {
  ready: true;
}

// Process-wide settings for this thread: no cache of decoded data, one libvips thread per job.
sharp.cache(false);
sharp.concurrency(1);

const port = parentPort;
if (!port) throw new Error('thread.ts runs as a worker thread only');

// pdf.js rejects internal promises that nobody awaits on some broken cross-reference tables
// ("XRefEntryException: Bad (uncompressed) XRef entry"), while the document's own promise rejects as it
// should. Node's default would end the thread over that stray rejection, failing the job as a crash (and,
// between jobs, taking the thread down). A job that really stops settling is still ended by the timeout.
process.on('unhandledRejection', () => {});

const sectionSchemas = {
  image: ImageInfoSchema,
  video: VideoInfoSchema,
  audio: AudioInfoSchema,
  pdf: PdfInfoSchema,
  dicom: DicomInfoSchema,
  text: TextInfoSchema,
} satisfies Record<DataType, unknown>;

/**
 * A section the contract refuses (a negative duration read from a truncated file, a zero width) is never
 * reported as ok: the bytes did not say something the contract can carry, so the asset is corrupt.
 */
function checked(extracted: Extracted): Extracted {
  const parsed = sectionSchemas[extracted.dataType].safeParse(extracted.section);
  if (parsed.success) return extracted;
  const issues = parsed.error.issues.map((i) => `${[extracted.dataType, ...i.path].join('.')}: ${i.message}`).join('; ');
  const err = new CorruptAssetError(`the ${extracted.dataType} metadata read from this file is not valid: ${issues}`);
  err.detected = { dataType: extracted.dataType, mimeType: extracted.mimeType };
  throw err;
}

port.on('message', (req: ThreadRequest) => {
  extractFile(req.path, req.config).then(checked).then(
    (value) => port.postMessage({ id: req.id, ok: true, value } satisfies ThreadReply),
    (err: unknown) =>
      port.postMessage({
        id: req.id,
        ok: false,
        error: isAssetError(err)
          ? { code: err.code, message: err.message, ...(err.detected ? { detected: err.detected } : {}) }
          : { code: 'CORRUPT_ASSET', message: messageOf(err) },
      } satisfies ThreadReply),
  );
});

port.postMessage({ ready: true } satisfies ThreadReady);
