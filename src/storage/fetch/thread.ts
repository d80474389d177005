/** Entry point of one fetch thread (pool.ts): fetches many URLs at a time; an uncaught exception ends this thread only. */
import path from 'node:path';
import { parentPort, workerData } from 'node:worker_threads';
import { isAssetError } from '../../errors.js';
import { createDownloader } from '../download.js';
import { TempDir } from '../temp-dir.js';
import { createUrlGuard } from '../url-guard.js';
import { inProcessFetcher } from './fetcher.js';
import { boundedMessage, fetchFileName, type FetchThreadData, type FromThread, type ToThread } from './pool.js';

const port = parentPort;
if (!port) throw new Error('fetch/thread.ts runs as a worker thread only');
const data = workerData as FetchThreadData;
if (data.preload) await import(data.preload);

const fetcher = inProcessFetcher({ signed: createDownloader(), url: createDownloader(createUrlGuard(data.allowedHosts)) });

/**
 * The TempDir one fetch writes through: the main thread's directory (it alone makes, sweeps and removes
 * it), with the file names the main thread chose (`file`, then `file.1`, ...).
 */
function tempFor(file: string): TempDir {
  const temp = new (TempDir as unknown as new (dir: string) => TempDir)(path.dirname(file));
  let n = 0;
  temp.newFile = () => fetchFileName(file, n++);
  return temp;
}

async function run(id: number, message: Extract<ToThread, { type: 'fetch' }>): Promise<FromThread> {
  try {
    return { type: 'done', id, ok: true, file: await fetcher.fetch(message.request, tempFor(message.file)) };
  } catch (err) {
    if (isAssetError(err)) {
      return { type: 'done', id, ok: false, error: { code: err.code, message: boundedMessage(err.message), ...(err.retryAfterMs !== undefined ? { retryAfterMs: err.retryAfterMs } : {}) } };
    }
    // Uncoded: a fault of ours, not the asset's; retried rather than lose the job (as the pipeline does).
    return { type: 'done', id, ok: false, error: { code: 'WORKER_FAULT', message: boundedMessage(`worker fault (not the asset's): fetch failed: ${boundedMessage(err)}`) } };
  }
}

port.on('message', (message: ToThread) => {
  if (message.type === 'ping') return port.postMessage({ type: 'pong', id: message.id } satisfies FromThread);
  void run(message.id, message).then((reply) => port.postMessage(reply));
});

port.postMessage({ type: 'ready' } satisfies FromThread);
