/**
 * `asset-meta enqueue (--storage ID --key KEY | --url URL) [--asset-id ID] [--wait]`: what a backend does,
 * from the command line.
 */
import { parseArgs } from 'node:util';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import type { ExtractJob } from '../contract.js';
import type { Config } from '../config.js';
import { enqueueAsset, waitForResult } from '../queue/client.js';

export const enqueueHelp = `Usage: asset-meta enqueue (--storage ID --key KEY [--version-id V] | --url URL) [--asset-id ID] [--wait] [--timeout-ms N]

Adds one extract job to QUEUE_NAME on REDIS_URL. The asset id defaults to the key or the URL's path.
Prints one JSON line: the job id, "added" (false when a job for the asset was already waiting, delayed
or running: the enqueue is merged into it) and the job's "state"; an asset whose job had finished runs
again ("replaced": "completed" or "failed"). With --wait, that line goes to stderr and the result is
printed when the job ends (exit 1 if it failed).

Examples:
  asset-meta enqueue --storage main --key uploads/scan-0001.dcm --asset-id 0001 --wait
  asset-meta enqueue --url "https://backend.example/signed/abc?X-Sig=..." --asset-id 42`;

export async function enqueueCommand(argv: string[], config: Config): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      storage: { type: 'string' },
      key: { type: 'string' },
      'version-id': { type: 'string' },
      url: { type: 'string' },
      'asset-id': { type: 'string' },
      wait: { type: 'boolean' },
      'timeout-ms': { type: 'string', default: '120000' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(enqueueHelp);
    return 0;
  }
  let source: ExtractJob['source'];
  if (values.url && !values.storage) source = { type: 'url', url: values.url };
  else if (values.storage && values.key && !values.url) {
    source = { type: 'storage', storageId: values.storage, key: values.key, ...(values['version-id'] ? { versionId: values['version-id'] } : {}) };
  } else {
    console.error(`give either --storage and --key, or --url\n\n${enqueueHelp}`);
    return 2;
  }
  const assetId = values['asset-id'] ?? (source.type === 'url' ? new URL(source.url).pathname : source.key);
  const connection = new Redis(config.redis.url, { maxRetriesPerRequest: null });
  const queue = new Queue(config.queue.name, { connection, prefix: config.queue.prefix });
  try {
    const enqueued = await enqueueAsset(queue, { assetId, source }, { attempts: config.queue.attempts });
    // One JSON line either way: `added` false says the asset's job was already waiting, delayed or running.
    const line = JSON.stringify({ assetId, queue: config.queue.name, ...enqueued });
    if (!values.wait) {
      console.log(line);
      return 0;
    }
    console.error(line);
    const result = await waitForResult(queue, assetId, { timeoutMs: Number(values['timeout-ms']) });
    console.log(JSON.stringify(result, null, 2));
    return result.status === 'ok' ? 0 : 1;
  } finally {
    await queue.close();
    await connection.quit().catch(() => {});
  }
}
