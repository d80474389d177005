/**
 * Detect, then extract: what runs on one local file of untrusted bytes. The pipeline runs it in an
 * isolated thread (isolate.ts); `asset-meta probe` and the tests call the same function.
 */
import { createHash } from 'node:crypto';
import { statSync } from 'node:fs';
import type { ExtractConfig } from '../config.js';
import { AssetError, CorruptAssetError, messageOf } from '../errors.js';
import { detect, detectBuffer, detectHeadBytes } from '../detect/detect.js';
import type { Extracted } from './extractor.js';
import { fillSync, withFileSync } from './read-sync.js';
import { extractors } from './registry.js';

/** `known`: the file's first bytes (a copy the caller will not change) and size, when the caller holds them. */
export async function extractFile(path: string, config: ExtractConfig, known?: { head: Buffer; sizeBytes: number }): Promise<Extracted> {
  const [detected, sizeBytes] = known
    ? [await detectBuffer(known.head), known.sizeBytes]
    : [await detect(path), statSync(path).size];
  const extractor = await extractors[detected.dataType]();
  // The head is a copy of the file's start: when it is the whole file, extractors need not open it again.
  const bytes = known && known.head.length === known.sizeBytes ? known.head : undefined;
  try {
    return await extractor({ ...detected, path, sizeBytes, ...(bytes ? { bytes } : {}) }, config);
  } catch (err) {
    // Coded inside the thread (only a code crosses it): a parser's own complaint is the file's fault.
    const coded = err instanceof AssetError ? err : new CorruptAssetError(messageOf(err), { cause: err });
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

/** Files are hashed in chunks of this size through one buffer kept for the thread's life (bounded memory). */
const chunkBytes = 2 ** 20;
let chunk: Buffer | undefined;

/** Size and sha256 of a local file, and its first bytes for detection (a copy). */
function hashFile(path: string): { sizeBytes: number; sha256: string; head: Buffer } {
  chunk ??= Buffer.allocUnsafe(chunkBytes);
  const buf = chunk;
  return withFileSync(path, (fd) => {
    const hash = createHash('sha256');
    let head: Buffer | undefined;
    let at = 0;
    for (;;) {
      const n = fillSync(fd, buf, at);
      if (n === 0) break;
      hash.update(buf.subarray(0, n));
      head ??= Buffer.from(buf.subarray(0, Math.min(n, detectHeadBytes)));
      at += n;
      if (n < buf.length) break;
    }
    return { sizeBytes: at, sha256: hash.digest('hex'), head: head ?? Buffer.alloc(0) };
  });
}

/**
 * What `asset-meta probe` does with a local file: read and hash it, detect from the same bytes, extract.
 * Never rejects: a failure is `error`, beside the size and digest once learnt.
 */
export async function hashAndExtract(path: string, config: ExtractConfig): Promise<Probed> {
  const t0 = performance.now();
  let file: FileFacts | undefined;
  try {
    const { sizeBytes, sha256, head } = hashFile(path);
    file = { sizeBytes, sha256, hashMs: performance.now() - t0 };
    return { file, extracted: await extractFile(path, config, { head, sizeBytes }) };
  } catch (error) {
    return { file, error };
  }
}
