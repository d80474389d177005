/** `asset-meta probe`: the worker's extraction on local files or URLs, with no queue and no database. */
import type { AssetResult } from '../contract.js';
import type { Config } from '../config.js';
import type { Extracted } from '../extractors/extractor.js';
import { expandPaths } from './files.js';
import { colours, summary, table } from './format.js';
import { oneOf, parseCommandArgs, UsageError, type Command } from './usage.js';

export const probeCommand: Command = {
  help: `Usage: asset-meta probe <path|url|dir>... [--format json|jsonl|table]

Extracts metadata from local files (directories are walked) or http(s) URLs, exactly as the worker
would, and prints one AssetResult per input (assetId = the argument as given; a URL's query string,
a signature, shows as ?[redacted]). An input that cannot be read (missing, not a regular file) gets a failed result like any other.
No Redis, no database. Exit status 1 if any input failed.

Options:
  --format json|jsonl|table   json (default): one object, or an array for several inputs
  -h, --help                  this text

Examples:
  asset-meta probe photo.jpg
  asset-meta probe fixtures/ --format table
  asset-meta probe https://example.com/scan.dcm --format jsonl`,
  parse(argv) {
    const { values, positionals } = parseCommandArgs(argv, { format: { type: 'string', default: 'json' } }, true);
    const format = oneOf('--format', values.format, ['json', 'jsonl', 'table']);
    if (positionals.length === 0) throw new UsageError('no input given: name files, directories or http(s) URLs');
    return async (config) => probeInputs(positionals, format, await config());
  },
};

/** One result per input; a URL's query string (a signature) never leaves in the assetId. */
async function probeInputs(args: string[], format: 'json' | 'jsonl' | 'table', config: Config): Promise<number> {
  const { default: os } = await import('node:os');
  const { ExtractPool } = await import('../extractors/pool/isolate.js');
  const { probeFile } = await import('../probe.js');
  const { redactUrl } = await import('../storage/redact.js');
  const inputs = await expandPaths(args);
  const isUrl = (input: string) => /^https?:\/\//i.test(input);
  const pool = new ExtractPool(Math.max(1, os.availableParallelism()), config.extract.maxHeapMb);
  const urls = inputs.some(isUrl) ? await urlProber(config, (path) => pool.run(path, config.extract)) : undefined;
  const results: AssetResult[] = [];
  try {
    for (const input of inputs) {
      const result = urls && isUrl(input)
        ? await urls.probe(input, redactUrl(input))
        : await probeFile(input, config.extract, (p, c) => pool.probe(p, c), input);
      results.push(result);
      if (format === 'jsonl') console.log(JSON.stringify(result));
    }
  } finally {
    await pool.close();
    await urls?.close();
  }
  // One input, one object; any other count (none, for an empty directory), an array.
  if (format === 'json') console.log(JSON.stringify(results.length === 1 ? results[0] : results, null, 2));
  if (format === 'table') console.log(resultTable(results));
  return results.some((r) => r.status === 'failed') ? 1 : 0;
}

/** The pipeline on a URL; the fetch runs in a thread of its own, as in the worker: a crash of the HTTP client fails that URL only. */
async function urlProber(config: Config, extract: (path: string) => Promise<Extracted>) {
  const { processAsset } = await import('../pipeline.js');
  const { FetchPool } = await import('../storage/fetch/pool.js');
  const { createStorages } = await import('../storage/registry.js');
  const { TempDir } = await import('../storage/temp-dir.js');
  const fetcher = new FetchPool({ threads: 1, allowedHosts: config.download.allowedHosts });
  const temp = await TempDir.create(config.download.tmpDir);
  const { maxAssetBytes: maxBytes, timeoutMs, stallTimeoutMs } = config.download;
  const deps = { storages: createStorages([]), fetcher, temp, limits: { maxBytes, timeoutMs, stallTimeoutMs }, extractConfig: config.extract, extract };
  return {
    probe: (url: string, assetId: string) => processAsset({ assetId, source: { type: 'url', url } }, deps),
    close: async () => {
      await fetcher.close();
      await temp.close();
    },
  };
}

function resultTable(results: AssetResult[]): string {
  const c = colours();
  const status = (r: AssetResult) => (r.status === 'ok' ? c.green('ok') : c.red('failed'));
  const rows = results.map((r) => [r.assetId, status(r), r.dataType ?? '-', r.mimeType ?? '-', String(r.sizeBytes ?? '-'), summary(r)]);
  return table(['input', 'status', 'type', 'mime', 'bytes', 'details'], rows);
}
