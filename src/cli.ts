#!/usr/bin/env node
/**
 * asset-meta: the command line (CONTRACT.md §5). Each command is a composition root of its own.
 */
import { ConfigError, loadConfig, type Config } from './config.js';
import { enqueueCommand, enqueueHelp } from './cli/enqueue.js';
import { probeCommand, probeHelp } from './cli/probe.js';
import { replayCommand, replayHelp } from './cli/replay.js';
import { storagesCommand, storagesHelp } from './cli/storages.js';

const help = `Usage: asset-meta <command> [options]

Commands:
  worker                       run one worker replica (same as npm start)
  probe <path|url|dir>...      extract metadata locally, no queue or database
  enqueue --storage ID --key K | --url URL [--wait]
                               add one job to the queue
  replay [dir] [--update]      run fixtures through the whole pipeline and compare with expected files
  storages check [id] [--key K]
                               sign, fetch and expire a URL on each configured storage

Run "asset-meta <command> --help" for a command's options and examples.
Configuration comes from the environment; see the README's configuration table.`;

// The pinned AWS SDK runs on Node 20; its notice that later releases will need Node 22 is for whoever
// upgrades the pin, not for every command's output (the README says so).
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const workerHelp = `Usage: asset-meta worker

Runs one worker replica (the same as npm start): takes extract jobs from QUEUE_NAME on REDIS_URL,
WORKER_CONCURRENCY at a time, and saves results to RESULT_SINKS. Configured by the environment only (see
the README's configuration table). SIGTERM or SIGINT drains it: no new job, jobs in flight finish, exit 0.

Examples:
  STORAGES_FILE=storages.json asset-meta worker
  WORKER_CONCURRENCY=8 DASHBOARD_ENABLED=true asset-meta worker`;

const helps: Record<string, string> = {
  worker: workerHelp,
  probe: probeHelp,
  enqueue: enqueueHelp,
  replay: replayHelp,
  storages: storagesHelp,
};

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (!command || command === '-h' || command === '--help' || command === 'help') {
    console.log(help);
    return command ? 0 : 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    if (helps[command]) {
      console.log(helps[command]);
      return 0;
    }
  }
  let config: Config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(err.message);
      return 2;
    }
    throw err;
  }
  switch (command) {
    case 'worker': {
      const { runWorkerProcess } = await import('../workers/metadata-worker.js');
      await runWorkerProcess(config);
      return -1; // keeps running until a signal
    }
    case 'probe':
      return probeCommand(rest, config);
    case 'enqueue':
      return enqueueCommand(rest, config);
    case 'replay':
      return replayCommand(rest, config);
    case 'storages':
      return storagesCommand(rest, config);
    default:
      console.error(`unknown command "${command}"\n\n${help}`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exitCode = code;
  },
  (err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exitCode = 1;
  },
);
