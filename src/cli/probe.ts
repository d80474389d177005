/**
 * `asset-meta probe <path|url|dir>... [--format json|jsonl|table]`: the worker's extraction on local files
 * or URLs, with no queue, no Redis and no database. Exit 1 if any failed.
 */
import os from 'node:os';
import { parseArgs } from 'node:util';
import type { AssetResult } from '../contract.js';
import type { Config } from '../config.js';
import { ExtractPool } from '../extractors/isolate.js';
import { probeFile } from '../probe.js';
import { processAsset } from '../pipeline.js';
import { FetchPool } from '../storage/fetch/pool.js';
import { createStorages } from '../storage/storage.js';
import { TempDir } from '../storage/temp-dir.js';
import { expandPaths } from './files.js';
import { colours, summary, table } from './format.js';

export const probeHelp = `Usage: asset-meta probe <path|url|dir>... [--format json|jsonl|table]

Extracts metadata from local files (directories are walked) or http(s) URLs, exactly as the worker
would, and prints one AssetResult per input (assetId = the argument as given). No Redis, no database.
Exit status 1 if any input failed.

Options:
  --format json|jsonl|table   json (default): one object, or an array for several inputs
  -h, --help                  this text

Examples:
  asset-meta probe photo.jpg
  asset-meta probe fixtures/ --format table
  asset-meta probe https://example.com/scan.dcm --format jsonl`;

export async function probeCommand(argv: string[], config: Config): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { format: { type: 'string', default: 'json' }, help: { type: 'boolean', short: 'h' } },
  });
  if (values.help || positionals.length === 0) {
    console.log(probeHelp);
    return values.help ? 0 : 2;
  }
  const format = values.format;
  if (format !== 'json' && format !== 'jsonl' && format !== 'table') {
    console.error(`--format must be json, jsonl or table, not ${format}`);
    return 2;
  }
  const inputs = await expandPaths(positionals);
  const pool = new ExtractPool(Math.max(1, os.availableParallelism()), config.extract.maxHeapMb);
  const run = (path: string) => pool.run(path, config.extract);
  let temp: TempDir | undefined;
  const fetcher = new FetchPool({ threads: 1, allowedHosts: config.download.allowedHosts });
  const results: AssetResult[] = [];
  try {
    for (const input of inputs) {
      if (/^https?:\/\//i.test(input)) {
        temp ??= await TempDir.create(config.download.tmpDir);
        const result = await processAsset(
          { assetId: input, source: { type: 'url', url: input } },
          {
            storages: createStorages([]),
            fetcher,
            temp,
            limits: { maxBytes: config.download.maxAssetBytes, timeoutMs: config.download.timeoutMs, stallTimeoutMs: config.download.stallTimeoutMs },
            extractConfig: config.extract,
            extract: run,
          },
        );
        results.push({ ...result, assetId: input });
      } else {
        results.push(await probeFile(input, config.extract, (p, c) => pool.probe(p, c), input));
      }
      if (format === 'jsonl') console.log(JSON.stringify(results.at(-1)));
    }
  } finally {
    await pool.close();
    await fetcher.close();
    await temp?.close();
  }
  if (format === 'json') console.log(JSON.stringify(results.length === 1 ? results[0] : results, null, 2));
  if (format === 'table') {
    const c = colours();
    console.log(
      table(
        ['input', 'status', 'type', 'mime', 'bytes', 'details'],
        results.map((r) => [
          r.assetId,
          r.status === 'ok' ? c.green('ok') : c.red('failed'),
          r.dataType ?? '-',
          r.mimeType ?? '-',
          String(r.sizeBytes ?? '-'),
          summary(r),
        ]),
      ),
    );
  }
  return results.some((r) => r.status === 'failed') ? 1 : 0;
}
