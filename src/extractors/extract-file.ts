/**
 * Detect, then extract: what runs on one local file of untrusted bytes. The pipeline runs it in an
 * isolated thread (isolate.ts); `asset-meta probe` and the tests call the same function.
 */
import { createHash } from 'node:crypto';
import { createReadStream, readFileSync, statSync } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import type { ExtractConfig } from '../config.js';
import { AssetError, CorruptAssetError, messageOf } from '../errors.js';
import { detect, detectBuffer, detectHeadBytes } from '../detect/detect.js';
import type { Extracted } from './extractor.js';
import { FfprobeSpawnError, asDeploymentFault } from './ffprobe.js';
import { extractors } from './registry.js';

/** What the head of the file is, when the caller already holds it (hashAndExtract): no second read. */
export interface KnownHead {
  head: Uint8Array;
  sizeBytes: number;
}

export async function extractFile(path: string, config: ExtractConfig, known?: KnownHead): Promise<Extracted> {
  const [detected, sizeBytes] = known
    ? [await detectBuffer(known.head), known.sizeBytes]
    : [await detect(path), statSync(path).size];
  const extractor = await extractors[detected.dataType]();
  try {
    return await extractor({ ...detected, path, sizeBytes }, config);
  } catch (err) {
    // Coded here, inside the extraction thread: only a coded error keeps its code across the boundary. A
    // parser's own complaint (a string, a plain object, a library Error) is the file's fault: CORRUPT_ASSET.
    const coded =
      err instanceof FfprobeSpawnError
        ? asDeploymentFault(err)
        : err instanceof AssetError
          ? err
          : new CorruptAssetError(messageOf(err), { cause: err });
    coded.detected ??= { dataType: detected.dataType, mimeType: detected.mimeType };
    throw coded;
  }
}

/** A local file's size and digest, and how long reading and hashing it took. */
export interface FileFacts {
  sizeBytes: number;
  sha256: string;
  hashMs: number;
}

/** A local file probed: its facts (once known) and either its metadata or why there is none. */
export interface Probed {
  file?: FileFacts;
  extracted?: Extracted;
  error?: unknown;
}

/**
 * Files up to this size are read into memory once and hashed and detected from that one buffer; larger
 * ones are hashed as a stream (bounded memory). 8 MiB keeps a thread's transient memory small beside its
 * heap limit, while covering every everyday image, document and clip.
 */
const oneReadMaxBytes = 8 * 2 ** 20;

async function sha256OfFile(path: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(path, { highWaterMark: 1 << 20 }), hash);
  return hash.digest('hex');
}

/**
 * What `asset-meta probe` does with a local file, in one pass where it can: read it, hash it, detect its
 * type from the same bytes, extract. Never rejects: a failure comes back as `error`, beside whatever
 * was learnt of the file before it (a failed result still carries the size and digest).
 */
export async function hashAndExtract(path: string, config: ExtractConfig): Promise<Probed> {
  const t0 = performance.now();
  let file: FileFacts | undefined;
  try {
    // Synchronous, as the extractors' own reads (read-sync.ts says why): one local file, in its own thread.
    const { size } = statSync(path);
    let known: KnownHead | undefined;
    if (size <= oneReadMaxBytes) {
      const bytes = readFileSync(path);
      file = { sizeBytes: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex'), hashMs: performance.now() - t0 };
      known = { head: bytes.subarray(0, detectHeadBytes), sizeBytes: bytes.length };
    } else {
      file = { sizeBytes: size, sha256: await sha256OfFile(path), hashMs: performance.now() - t0 };
    }
    return { file, extracted: await extractFile(path, config, known) };
  } catch (error) {
    return { file, error };
  }
}
