/**
 * One asset, end to end: sign → download → detect + extract → result. The stages know nothing of the queue
 * or the sinks. Every path ends with a result, and the temp file is deleted as soon as extraction ends.
 */
import type { AssetResult, ExtractJob, Timings } from './contract.js';
import { defaultRangedReadMinBytes, type ExtractConfig } from './config.js';
import { AccessDeniedError, AssetError, messageOf, workerFault } from './errors.js';
import type { Extracted } from './extractors/extractor.js';
import { asExtractError, failedResult, okResult } from './result.js';
import type { DownloadLimits } from './storage/download.js';
import { inProcessFetcher, type Downloaders, type FetchedFile, type Fetcher } from './storage/fetch/fetcher.js';
import { redactUrlsIn } from './storage/redact.js';
import type { StorageRegistry } from './storage/storage.js';
import type { TempDir } from './storage/temp-dir.js';

/** A `fetcher` (the worker's fetch thread), or downloaders on this thread (tests, benchmarks): signed and `url` (SSRF-guarded). */
export type FetchDeps = { fetcher: Fetcher } | { signedDownloader: Downloaders['signed']; urlDownloader: Downloaders['url'] };

export type PipelineDeps = FetchDeps & {
  storages: StorageRegistry;
  temp: TempDir;
  limits: DownloadLimits;
  extractConfig: ExtractConfig;
  extract(path: string, config: ExtractConfig): Promise<Extracted>;
  /** Set when `extract` removes the file itself however it ends, as the extraction pool does with `remove`. */
  extractRemovesFile?: boolean;
  /** Called as each stage ends (metrics). */
  onStage?(stage: 'sign' | 'download' | 'extract', ms: number): void;
  onBytes?(bytes: number): void;
};

type Stage = 'sign' | 'download' | 'extract';

/** Runs one job. Coded errors become a failed result; the caller decides whether to retry. */
export async function processAsset(job: ExtractJob, deps: PipelineDeps): Promise<AssetResult> {
  const timings: Timings = { sign: 0, download: 0, extract: 0, total: 0 };
  const started = performance.now();
  const timed = async <T>(stage: Stage, fn: () => Promise<T>): Promise<T> => {
    const t0 = performance.now();
    try {
      return await fn();
    } finally {
      const ms = performance.now() - t0;
      timings[stage] += ms;
      deps.onStage?.(stage, ms);
    }
  };
  const done = () => ({ ...timings, total: performance.now() - started });

  let file: FetchedFile | undefined;
  // The file on disk this function still has to remove: none once an `extract` that removes it has run.
  let held: string | undefined;
  const release = async () => {
    if (held) await deps.temp.remove(held);
    held = undefined;
  };
  const extract = (path: string) =>
    timed('extract', () => deps.extract(path, deps.extractConfig))
      .catch((err: unknown) => {
        throw asExtractError(err);
      })
      .finally(() => {
        if (!deps.extractRemovesFile) return;
        deps.temp.forget(path);
        held = undefined;
      });
  try {
    const limits = { ...deps.limits, maxBytes: Math.min(deps.limits.maxBytes, job.maxBytes ?? Infinity) };
    file = await fetchObject(job, deps, limits, timed, true);
    held = file.path;
    deps.onBytes?.(file.bytesFetched ?? file.sizeBytes);
    let extracted: Extracted;
    try {
      extracted = await extract(file.path);
    } catch (err) {
      if (file.sha256Scope !== 'partial') throw err;
      // A ranged read missed bytes the extractor needed: read the object whole and extract again, so that a
      // partial read never decides the result.
      await release();
      file = undefined;
      file = await fetchObject(job, deps, limits, timed, false);
      held = file.path;
      extracted = await extract(file.path);
    }
    return okResult(job.assetId, file, extracted, done());
  } catch (err) {
    return failedResult(job.assetId, toAssetError(err), done(), file);
  } finally {
    await release();
  }
}

async function fetchObject(
  job: ExtractJob,
  deps: PipelineDeps,
  limits: DownloadLimits,
  timed: <T>(stage: Stage, fn: () => Promise<T>) => Promise<T>,
  ranged: boolean,
): Promise<FetchedFile> {
  const source = job.source;
  const fetcher = 'fetcher' in deps ? deps.fetcher : inProcessFetcher({ signed: deps.signedDownloader, url: deps.urlDownloader });
  // `ranged` is false on the second read after a partial one missed bytes: then the object is read whole.
  const rangedMinBytes = ranged ? (limits.rangedReadMinBytes ?? defaultRangedReadMinBytes) : Infinity;
  if (source.type === 'url') {
    // Nothing to sign again: a refused job URL is ACCESS_DENIED at once.
    return timed('download', () => fetcher.fetch({ source: 'url', url: source.url, limits, rangedMinBytes }, deps.temp));
  }
  const storage = deps.storages(source.storageId);
  const ref = { assetId: job.assetId, key: source.key, ...(source.versionId ? { versionId: source.versionId } : {}) };
  for (let attempt = 0; ; attempt++) {
    const signed = await timed('sign', () => storage.sign(ref));
    try {
      return await timed('download', () => fetcher.fetch({ source: 'signed', url: signed.url, limits, rangedMinBytes }, deps.temp));
    } catch (err) {
      // A URL that expired before or during the download is signed again, once (docs/contract.md §2). Stores
      // say so differently (S3 and Azure 403, GCS 400 ExpiredToken), so any refusal earns one re-sign.
      if (err instanceof AccessDeniedError && attempt === 0) continue;
      throw err;
    }
  }
}

/** Anything uncoded that escaped a stage is a fault of ours, not a verdict on the asset: WORKER_FAULT, retried. */
function toAssetError(err: unknown): AssetError {
  if (err instanceof AssetError) {
    // Messages are saved in results: no signed URL, ever.
    err.message = redactUrlsIn(err.message);
    return err;
  }
  return workerFault(redactUrlsIn(messageOf(err)));
}
