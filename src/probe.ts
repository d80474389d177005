/**
 * Local files, no queue, no storage, no database: what `asset-meta probe` and the fixture suite run.
 * The same result as the worker would save, with the file's own sha256.
 */
import type { AssetResult } from './contract.js';
import type { ExtractConfig } from './config.js';
import { hashAndExtract, type Probed } from './extractors/extract-file.js';
import { asExtractError, failedResult, okResult } from './result.js';

/** Probes one local file: its size, sha256 and metadata (hashAndExtract in-process, or ExtractPool.probe). */
export type ProbeRunner = (path: string, config: ExtractConfig) => Promise<Probed>;

export async function probeFile(
  path: string,
  config: ExtractConfig,
  run: ProbeRunner = hashAndExtract,
  assetId: string = path,
): Promise<AssetResult> {
  const started = performance.now();
  const { file, extracted, error } = await run(path, config);
  const total = performance.now() - started;
  // The time spent reading and hashing is the thread's own figure; the rest of the call is extraction.
  const extract = total - (file?.hashMs ?? 0);
  const timings = { sign: 0, download: 0, extract, total };
  const facts = file ? { sizeBytes: file.sizeBytes, sha256: file.sha256 } : undefined;
  if (extracted && facts) return okResult(assetId, facts, extracted, timings);
  return failedResult(assetId, asExtractError(error ?? new Error('no metadata and no error')), timings, facts);
}
