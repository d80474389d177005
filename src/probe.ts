/**
 * Local files, no queue, no storage, no database: what `asset-meta probe` and the fixture suite run.
 * The same result as the worker would save, with the file's own sha256.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import type { AssetResult } from './contract.js';
import type { ExtractConfig } from './config.js';
import type { Extracted } from './extractors/extractor.js';
import { extractFile } from './extractors/extract-file.js';
import { asExtractError, failedResult, okResult } from './result.js';

export type ExtractRunner = (path: string, config: ExtractConfig) => Promise<Extracted>;

export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(path), hash);
  return hash.digest('hex');
}

export async function probeFile(
  path: string,
  config: ExtractConfig,
  run: ExtractRunner = extractFile,
  assetId: string = path,
): Promise<AssetResult> {
  const started = performance.now();
  let file: { sizeBytes: number; sha256: string } | undefined;
  try {
    const [st, sha256] = await Promise.all([stat(path), sha256File(path)]);
    file = { sizeBytes: st.size, sha256 };
    const t0 = performance.now();
    const extracted = await run(path, config);
    const extract = performance.now() - t0;
    return okResult(assetId, file, extracted, { sign: 0, download: 0, extract, total: performance.now() - started });
  } catch (err) {
    const total = performance.now() - started;
    return failedResult(assetId, asExtractError(err), { sign: 0, download: 0, extract: total, total }, file);
  }
}
