/**
 * Large objects one at a time through the pipeline (sign → ranged or full read → extract in the compiled
 * thread pool), in this process, against the dev S3 server: time to result and the bytes the server
 * sent. Run twice: RANGED_READ_MIN_BYTES at its default (ranged reads on) and at infinity (whole reads).
 */
import type { AssetResult } from '../../src/contract.js';
import { defaultRangedReadMinBytes, loadConfig } from '../../src/config.js';
import type { S3Server } from '../dev/s3-server.js';
import { processAsset } from '../../src/pipeline.js';
import { createDownloader } from '../../src/storage/download.js';
import { createStorages } from '../../src/storage/registry.js';
import { TempDir } from '../../src/storage/temp-dir.js';
import type { CorpusFile } from './corpus.js';
import type { Compiled } from './in-process.js';
import { keyOf } from './queue-path.js';

export interface LargeRun {
  label: string;
  bytes: number;
  mode: 'ranged' | 'full';
  seconds: number;
  /** Body bytes the S3 server sent for this object. */
  fetched: number;
  requests: number;
  result: AssetResult;
}

export async function measureLarge(s3: S3Server, tmpDir: string, large: CorpusFile[], lib: Compiled): Promise<LargeRun[]> {
  const config = loadConfig({
    BENCH_KEY: s3.accessKeyId,
    BENCH_SECRET: s3.secretAccessKey,
    STORAGES: JSON.stringify([{ id: 'bench', kind: 's3', bucket: s3.bucket, region: s3.region, endpoint: s3.endpoint, forcePathStyle: true, accessKeyIdEnv: 'BENCH_KEY', secretAccessKeyEnv: 'BENCH_SECRET' }]),
  });
  const temp = await TempDir.create(tmpDir);
  const downloader = createDownloader();
  const pool = new lib.ExtractPool(1, config.extract.maxHeapMb, { execArgv: [] });
  const storages = createStorages(config.storages);
  const out: LargeRun[] = [];
  try {
    // The thread's start and first ffprobe are not the object's cost: pay them before the clock runs.
    if (large[0]) await pool.run(large[0].path, config.extract);
    for (const mode of ['ranged', 'full'] as const) {
      const limits = {
        maxBytes: config.download.maxAssetBytes, timeoutMs: config.download.timeoutMs, stallTimeoutMs: config.download.stallTimeoutMs,
        rangedReadMinBytes: mode === 'ranged' ? defaultRangedReadMinBytes : Number.MAX_SAFE_INTEGER,
      };
      for (const f of large) {
        const before = s3.requests.length;
        const t0 = performance.now();
        const result = await processAsset({ assetId: `${mode}/${keyOf(f)}`, source: { type: 'storage', storageId: 'bench', key: keyOf(f) } }, {
          storages, signedDownloader: downloader, urlDownloader: downloader, temp, limits, extractConfig: config.extract,
          extract: (path, c) => pool.run(path, c),
        });
        const seconds = (performance.now() - t0) / 1000;
        const mine = s3.requests.slice(before).filter((r) => r.path.endsWith(`/${keyOf(f)}`) && r.method === 'GET');
        out.push({ label: f.label, bytes: f.bytes, mode, seconds, fetched: mine.reduce((s, r) => s + r.bytesSent, 0), requests: mine.length, result });
      }
    }
    return out;
  } finally {
    await pool.close();
    await downloader.close();
    await temp.close();
  }
}
