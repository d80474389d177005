#!/usr/bin/env node
/**
 * asset-meta: the command line (docs/contract.md §5). Each command is a composition root of its own, loaded
 * when named; it loads its heavy modules once its arguments are good: `--help` and usage errors answer at once.
 */
import './node-version.js';
import { runCommand, usageMessage, type Command } from './cli/usage.js';

const help = `Usage: asset-meta <command> [options]

Commands:
  worker                       run one worker replica
  probe <path|url|dir>...      extract metadata locally, no queue or database
  enqueue --storage ID --key K | --url URL [--wait]
                               add one job to the queue
  replay [dir] [--update]      run fixtures through the whole pipeline and compare with expected files
  storages check [id] [--key K]
                               sign, fetch and expire a URL on each configured storage

Run "asset-meta <command> --help" for a command's options and examples.
Configuration comes from the environment; see the README's configuration table.`;

const commands: Record<string, () => Promise<Command>> = {
  worker: async () => (await import('./cli/worker.js')).workerCommand,
  probe: async () => (await import('./cli/probe.js')).probeCommand,
  enqueue: async () => (await import('./cli/enqueue.js')).enqueueCommand,
  replay: async () => (await import('./cli/replay.js')).replayCommand,
  storages: async () => (await import('./cli/storages.js')).storagesCommand,
};

/** Longest message printed for an unexpected error. */
const maxErrorChars = 500;

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === '-h' || name === '--help' || (name === 'help' && rest.length === 0)) {
    console.log(help);
    return 0;
  }
  if (name === 'help') return main([...rest, '--help']);
  const load = name !== undefined && Object.hasOwn(commands, name) ? commands[name] : undefined;
  if (!load) {
    const what = name === undefined ? 'no command given' : `${name.startsWith('-') ? 'unknown option' : 'unknown command'} ${JSON.stringify(name.slice(0, 80))}`;
    console.error(usageMessage('asset-meta', help, what));
    return 2;
  }
  return runCommand(`asset-meta ${name}`, await load(), rest, async () => (await import('./config.js')).loadConfig());
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
