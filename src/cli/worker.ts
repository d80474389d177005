/** `asset-meta worker`: one worker replica, the same as `npm start`. */
import { parseCommandArgs, type Command } from './usage.js';

export const workerCommand: Command = {
  help: `Usage: asset-meta worker

Runs one worker replica (the same as npm start): takes extract jobs from QUEUE_NAME on REDIS_URL,
WORKER_CONCURRENCY at a time, and saves results to RESULT_SINKS. Configured by the environment only (see
the README's configuration table). SIGTERM or SIGINT drains it: no new job, jobs in flight finish, exit 0.

Examples:
  STORAGES_FILE=storages.json asset-meta worker
  WORKER_CONCURRENCY=8 DASHBOARD_ENABLED=true asset-meta worker`,
  parse(argv) {
    parseCommandArgs(argv, {}, false);
    return async (config) => {
      const { runWorkerProcess } = await import('../../workers/metadata-worker.js');
      await runWorkerProcess(await config());
      return -1; // keeps running until a signal
    };
  },
};
