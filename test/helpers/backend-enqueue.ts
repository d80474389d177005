/**
 * A stand-in backend: a separate Node process that enqueues one asset with the package's exported helper
 * and waits for its result, printing it as JSON. Usage: backend-enqueue.ts <queue> <assetId> <storageId> <key>
 */
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { enqueueAsset, waitForResult } from '../../src/index.js';

const [queueName, assetId, storageId, key] = process.argv.slice(2);
if (!queueName || !assetId || !storageId || !key) throw new Error('usage: backend-enqueue <queue> <assetId> <storageId> <key>');
const connection = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', { maxRetriesPerRequest: null });
const queue = new Queue(queueName, { connection });
try {
  await enqueueAsset(queue, { assetId, source: { type: 'storage', storageId, key } });
  const result = await waitForResult(queue, assetId, { timeoutMs: 30_000 });
  process.stdout.write(JSON.stringify(result));
} finally {
  await queue.close();
  await connection.quit();
}
