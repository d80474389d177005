/** `asset-meta enqueue`: what a backend does, from the command line. */
import type { ExtractJob } from '../contract.js';
import type { Config } from '../config.js';
import { nonNegativeInt, parseCommandArgs, quote, UsageError, type Command } from './usage.js';

export const enqueueCommand: Command = {
  help: `Usage: asset-meta enqueue (--storage ID --key KEY [--version-id V] | --url URL) [--asset-id ID] [--wait] [--timeout-ms N]

Adds one extract job to QUEUE_NAME on REDIS_URL. The asset id defaults to the key or the URL's path.
Prints one JSON line: the job id, "added" (false when a job for the asset was already waiting, delayed
or running: the enqueue is merged into it) and the job's "state"; an asset whose job had finished runs
again ("replaced": "completed" or "failed"). With --wait, that line goes to stderr and the result is
printed when the job ends (exit 1 if it failed).

Examples:
  asset-meta enqueue --storage main --key uploads/scan-0001.dcm --asset-id 0001 --wait
  asset-meta enqueue --url "https://backend.example/signed/abc?X-Sig=..." --asset-id 42`,
  parse(argv) {
    const text = { type: 'string' } as const;
    const { values } = parseCommandArgs(
      argv,
      { storage: text, key: text, 'version-id': text, url: text, 'asset-id': text, wait: { type: 'boolean' }, 'timeout-ms': { type: 'string', default: '120000' } },
      false,
    );
    let source: ExtractJob['source'];
    if (values.url && !values.storage) source = { type: 'url', url: values.url };
    else if (values.storage && values.key && !values.url) {
      source = { type: 'storage', storageId: values.storage, key: values.key, ...(values['version-id'] ? { versionId: values['version-id'] } : {}) };
    } else {
      throw new UsageError('give either --storage and --key, or --url');
    }
    const timeoutMs = nonNegativeInt('--timeout-ms', values['timeout-ms']);
    let assetId = values['asset-id'];
    if (assetId === undefined) {
      if (source.type === 'storage') assetId = source.key;
      else if (URL.canParse(source.url)) assetId = new URL(source.url).pathname;
      else throw new UsageError(`--url is not a URL: ${quote(source.url)}`);
    }
    const job = { assetId, source };
    return async (config) => enqueue(job, values.wait === true, timeoutMs, await config());
  },
};

/** Adds the job (bullmq and ioredis are loaded only now) and, with --wait, prints its result. */
async function enqueue(job: ExtractJob, wait: boolean, timeoutMs: number, config: Config): Promise<number> {
  const { Queue } = await import('bullmq');
  const { Redis } = await import('ioredis');
  const { enqueueAsset, waitForResult } = await import('../queue/client.js');
  const connection = new Redis(config.redis.url, { maxRetriesPerRequest: null });
  const queue = new Queue(config.queue.name, { connection, prefix: config.queue.prefix });
  try {
    const enqueued = await enqueueAsset(queue, job, { attempts: config.queue.attempts });
    // One JSON line either way (`added` false: the asset's job was already waiting, delayed or running).
    (wait ? console.error : console.log)(JSON.stringify({ assetId: job.assetId, queue: config.queue.name, ...enqueued }));
    if (!wait) return 0;
    const result = await waitForResult(queue, job.assetId, { timeoutMs });
    console.log(JSON.stringify(result, null, 2));
    return result.status === 'ok' ? 0 : 1;
  } finally {
    await queue.close();
    await connection.quit().catch(() => {});
  }
}
