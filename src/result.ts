/** Builds the contract's AssetResult (docs/contract.md §3), for success and failure alike. */
import type { AssetResult, Timings } from './contract.js';
import { AssetError, CorruptAssetError, messageOf } from './errors.js';
import type { Extracted } from './extractors/extractor.js';

export interface Downloaded {
  sizeBytes: number;
  sha256: string;
  /** Absent: the whole object was hashed. */
  sha256Scope?: 'full' | 'partial';
}

/** Timings to 0.1 ms (finer digits are clock noise), never negative. */
const round = (ms: number) => Number(Math.max(0, ms).toFixed(1));
const rounded = (t: Timings): Timings => ({ sign: round(t.sign), download: round(t.download), extract: round(t.extract), total: round(t.total) });

export function okResult(assetId: string, file: Downloaded, extracted: Extracted, timingsMs: Timings): AssetResult {
  return {
    schemaVersion: 1,
    assetId,
    status: 'ok',
    dataType: extracted.dataType,
    mimeType: extracted.mimeType,
    sizeBytes: file.sizeBytes,
    sha256: file.sha256,
    sha256Scope: file.sha256Scope ?? 'full',
    [extracted.dataType]: extracted.section,
    timingsMs: rounded(timingsMs),
    processedAt: new Date().toISOString(),
  } as AssetResult;
}

export function failedResult(assetId: string, error: AssetError, timingsMs: Timings, file?: Partial<Downloaded>): AssetResult {
  return {
    schemaVersion: 1,
    assetId,
    status: 'failed',
    ...(error.detected ? { dataType: error.detected.dataType, mimeType: error.detected.mimeType } : {}),
    ...(file?.sizeBytes !== undefined ? { sizeBytes: file.sizeBytes } : {}),
    ...(file?.sha256 ? { sha256: file.sha256, sha256Scope: file.sha256Scope ?? 'full' } : {}),
    error: error.toJSON(),
    timingsMs: rounded(timingsMs),
    processedAt: new Date().toISOString(),
  };
}

/** An uncoded error from reading untrusted bytes is the parser's complaint about the file: CORRUPT_ASSET. */
export function asExtractError(err: unknown): AssetError {
  if (err instanceof AssetError) return err;
  return new CorruptAssetError(messageOf(err), { cause: err });
}

export const zeroTimings = (): Timings => ({ sign: 0, download: 0, extract: 0, total: 0 });
