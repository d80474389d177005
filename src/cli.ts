#!/usr/bin/env node
/**
 * asset-meta: the command line (docs/contract.md §5). Each command is a composition root of its own.
 *
 * Only the command named is loaded, and it loads its heavy modules (extractors, storage SDKs, the queue)
 * only once its arguments are good: `--help` and usage errors answer at once (see cli/usage.ts).
 */
import './node-version.js';
import { asUsageError, usageMessage, type Command } from './cli/usage.js';

const help = `Usage: asset-meta <command> [options]

Commands:
  worker                       run one worker replica
  probe <path|url|dir>...      extract metadata locally, no queue or database
  enqueue --storage ID --key K | --url URL [--wait]
                               add one job to the queue
  replay [dir] [--update]      run fixtures through the whole pipeline and compare with expected files
  storages check [id] [--key K]
                               sign, fetch and expire a URL on each configured storage
  dev-store [path|dir]...      run a local S3-compatible store to try the worker with, until Ctrl-C

Run "asset-meta <command> --help" for a command's options and examples.
Configuration comes from the environment; see the README's configuration table.`;

const commands: Record<string, () => Promise<Command>> = {
  worker: async () => (await import('./cli/worker.js')).workerCommand,
  probe: async () => (await import('./cli/probe.js')).probeCommand,
  enqueue: async () => (await import('./cli/enqueue.js')).enqueueCommand,
  replay: async () => (await import('./cli/replay.js')).replayCommand,
  storages: async () => (await import('./cli/storages.js')).storagesCommand,
  'dev-store': async () => (await import('./cli/dev-store.js')).devStoreCommand,
};

/** Longest message printed for an unexpected error. */
const maxErrorChars = 500;

const wantsHelp = (args: string[]) => {
  const end = args.indexOf('--');
  return (end < 0 ? args : args.slice(0, end)).some((a) => a === '--help' || a === '-h');
};

async function loadConfig() {
  const { loadConfig: load } = await import('./config.js');
  return load();
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === '-h' || name === '--help' || (name === 'help' && rest.length === 0)) {
    console.log(help);
    return 0;
  }
  if (name === 'help') return main([...rest, '--help']);
  if (name === undefined) {
    console.error(usageMessage(undefined, help, 'no command given'));
    return 2;
  }
  const load = Object.hasOwn(commands, name) ? commands[name] : undefined;
  if (!load) {
    const what = name.startsWith('-') ? 'unknown option' : 'unknown command';
    console.error(usageMessage(undefined, help, `${what} ${JSON.stringify(name.slice(0, 80))}`));
    return 2;
  }
  const command = await load();
  if (wantsHelp(rest)) {
    console.log(command.help);
    return 0;
  }
  try {
    return await command.parse(rest)(loadConfig);
  } catch (err) {
    const usage = asUsageError(err);
    if (usage) {
      console.error(usageMessage(name, command.help, usage.message));
      return 2;
    }
    if (err instanceof Error && err.name === 'ConfigError') {
      console.error(err.message);
      return 2;
    }
    throw err;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exitCode = code;
  },
  async (err: unknown) => {
    // An error no command expected: its message, on one bounded line, with any URL's query string removed.
    const { redactUrlsIn } = await import('./storage/redact.js');
    const message = err instanceof Error ? err.message : String(err);
    console.error(`asset-meta: ${redactUrlsIn(message).replace(/\s+/g, ' ').slice(0, maxErrorChars)}`);
    process.exitCode = 1;
  },
);
