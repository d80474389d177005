/**
 * Loaded into the extraction threads of test/extractors/isolate.test.ts (execArgv `--import`): makes on
 * demand the faults no known input makes, keyed by the requested file's name. Its message listener is
 * added once thread.ts says it is ready, so that it runs after thread.ts's own: the job has started.
 *
 *   throw-during-job*   an uncaught exception while the job runs
 *   reject-during-job*  an unhandled rejection while the job runs
 *   reject-after-job*   an unhandled rejection 300 ms later, when the thread is idle again
 */
import { basename } from 'node:path';
import { parentPort } from 'node:worker_threads';

function inject(request) {
  const name = typeof request?.path === 'string' ? basename(request.path) : '';
  if (name.startsWith('throw-during-job')) throw new Error('injected exception');
  if (name.startsWith('reject-during-job')) void Promise.reject(new Error('injected rejection'));
  if (name.startsWith('reject-after-job')) setTimeout(() => void Promise.reject(new Error('injected late rejection')), 300);
}

const post = parentPort.postMessage.bind(parentPort);
parentPort.postMessage = (message, transfer) => {
  if (message?.ready === true) parentPort.on('message', inject);
  return post(message, transfer);
};
