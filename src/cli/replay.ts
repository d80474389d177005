/**
 * `asset-meta replay`: the whole pipeline on the fixtures. The checkout's `npm run replay` passes a loopback
 * store (scripts/dev), so it works on a fresh machine with only Redis and PostgreSQL.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { AssetResult } from '../contract.js';
import type { Config } from '../config.js';
import type { Difference, Expected } from '../replay/compare.js';
import type { ResolvedS3Storage } from '../storage/storage-config.js';
import { expandPaths } from './files.js';
import { colours, progress, summary, table } from './format.js';
import { nonNegativeInt, parseCommandArgs, quote, UsageError, type Command } from './usage.js';

const help = `Usage: asset-meta replay [dir] [--update] [--storage ID] [--external-worker] [--timeout-ms N]

Uploads every fixture under dir (default: fixtures) that has a <file>.expected.json, enqueues one job each,
waits for the results and compares each with its expected file. Prints a table; exit 1 on any difference.

The files go to the configured s3 storage named by --storage. In a checkout, npm run replay (and npm
run demo) runs this command with an S3-compatible server on loopback when no --storage is named. Without
--external-worker, a worker replica runs in this process on a queue of its own; with it, the jobs go to
QUEUE_NAME for the replicas already running.

Options:
  --update            rewrite each expected file from its result (review the diff before committing)
  --storage ID        upload to this configured s3 storage
  --external-worker   do not start a worker here; use the running replicas
  --timeout-ms N      how long to wait for all results (default 120000)
  -h, --help          this text

Examples:
  npm run demo
  npm run replay -- fixtures/image --update
  STORAGES_FILE=storages.json asset-meta replay --storage main --external-worker`;

/** Where the fixtures are uploaded: a configured s3 storage, or a store the caller starts. */
export interface Target {
  storage: ResolvedS3Storage;
  upload(key: string, body: Buffer): Promise<void>;
  close(): Promise<void>;
}

async function configuredTarget(config: Config, id: string): Promise<Target> {
  const storage = config.storages.find((s) => s.id === id);
  if (!storage || storage.kind !== 's3') throw new UsageError(`--storage ${quote(id)}: no s3 storage with that id is configured`);
  const { S3Client, PutObjectCommand } = await import('@aws-sdk/client-s3');
  const client = new S3Client({
    region: storage.region,
    forcePathStyle: storage.forcePathStyle,
    ...(storage.endpoint ? { endpoint: storage.endpoint } : {}),
    ...(storage.credentials ? { credentials: storage.credentials } : {}),
  });
  return {
    storage,
    upload: (key, body) => client.send(new PutObjectCommand({ Bucket: storage.bucket, Key: key, Body: body })).then(() => {}),
    close: async () => client.destroy(),
  };
}

/** The fields of a result that an expected file holds (what is known from how the file was made), its notes kept. */
function expectedFrom(result: AssetResult, previous: Expected): Expected {
  const notes = Object.fromEntries(Object.entries(previous).filter(([k]) => k.startsWith('$')));
  if (result.status === 'failed') return { ...notes, status: 'failed', error: { code: result.error?.code } };
  const { dataType, mimeType } = result;
  return { ...notes, status: 'ok', dataType, mimeType, ...(dataType ? { [dataType]: result[dataType] } : {}) };
}

type Options = { dir: string; update: boolean; storage: string | undefined; externalWorker: boolean; timeoutMs: number };

/**
 * The replay command; `loopback` starts the store used when no --storage is named (a development store the
 * checkout's `npm run replay` passes in: it is not part of the installed package).
 */
export function replayCommandWith(loopback?: () => Promise<Target>): Command {
  return {
    help,
    parse(argv) {
      const { values, positionals } = parseCommandArgs(
        argv,
        { update: { type: 'boolean' }, storage: { type: 'string' }, 'external-worker': { type: 'boolean' }, 'timeout-ms': { type: 'string', default: '120000' } },
        true,
      );
      if (positionals[1] !== undefined) throw new UsageError(`unexpected argument ${quote(positionals[1])}: replay takes one directory`);
      const options: Options = {
        dir: positionals[0] ?? 'fixtures',
        update: values.update === true,
        storage: values.storage,
        externalWorker: values['external-worker'] === true,
        timeoutMs: nonNegativeInt('--timeout-ms', values['timeout-ms']),
      };
      if (!options.storage && !loopback) throw new UsageError('--storage ID is needed (in a checkout, npm run replay starts a loopback store)');
      return async (config) => {
        const resolved = await config();
        const target = options.storage ? await configuredTarget(resolved, options.storage) : await loopback!();
        return replay(options, resolved, target);
      };
    },
  };
}

export const replayCommand = replayCommandWith();

/** One fixture replayed: `file` relative to the directory, `path` as found. */
type Outcome = { file: string; path: string; result: AssetResult; expected: Expected; diffs: Difference[] };

async function replay(options: Options, config: Config, target: Target): Promise<number> {
  try {
    const files = (await expandPaths([options.dir])).filter((f) => existsSync(`${f}.expected.json`));
    if (files.length === 0) {
      console.error(`no fixture with an .expected.json under ${options.dir}`);
      return 2;
    }
    const started = performance.now();
    const outcomes = await runFixtures(files, options, config, target);
    return await report(outcomes, options, (performance.now() - started) / 1000);
  } finally {
    await target.close();
  }
}

/** Uploads and enqueues every fixture, with a worker of its own unless told to use the running ones. */
async function runFixtures(files: string[], options: Options, config: Config, target: Target): Promise<Outcome[]> {
  const { Queue, QueueEvents } = await import('bullmq');
  const { Redis } = await import('ioredis');
  const { enqueueAsset, waitForResult } = await import('../queue/client.js');
  const { compareExpected } = await import('../replay/compare.js');
  const embedded = !options.externalWorker;
  const queueName = embedded ? `${config.queue.name}-replay-${randomBytes(4).toString('hex')}` : config.queue.name;
  const connection = new Redis(config.redis.url, { maxRetriesPerRequest: null });
  const queue = new Queue(queueName, { connection, prefix: config.queue.prefix });
  const eventsConnection = connection.duplicate();
  const events = new QueueEvents(queueName, { connection: eventsConnection, prefix: config.queue.prefix });
  // One waiter per fixture listens on the queue at once.
  queue.setMaxListeners(files.length + 10);
  let worker: { close(): Promise<void> } | undefined;
  try {
    if (embedded) {
      const { startWorker } = await import('../../workers/metadata-worker.js');
      const { createLogger } = await import('../observability/logger.js');
      const storages = [...config.storages.filter((s) => s.id !== target.storage.id), target.storage];
      worker = await startWorker({ ...config, queue: { ...config.queue, name: queueName }, storages, healthPort: 0 }, createLogger(process.env.LOG_LEVEL ?? 'warn'));
    }
    await events.waitUntilReady();
    const runId = randomBytes(4).toString('hex');
    const bar = progress(files.length);
    let done = 0;
    const outcomes = await Promise.all(
      files.map(async (file): Promise<Outcome> => {
        const rel = path.relative(options.dir, file) || path.basename(file);
        const key = `replay/${runId}/${rel}`;
        await target.upload(key, await readFile(file));
        await enqueueAsset(queue, { assetId: key, source: { type: 'storage', storageId: target.storage.id, key } }, { attempts: 2, backoff: { type: 'fixed', delay: 500 } });
        const result = await waitForResult(queue, key, { timeoutMs: options.timeoutMs, events });
        bar.tick(++done);
        const expected = JSON.parse(await readFile(`${file}.expected.json`, 'utf8')) as Expected;
        return { file: rel, path: file, result, expected, diffs: compareExpected(expected, result) };
      }),
    );
    bar.end();
    return outcomes;
  } finally {
    await worker?.close();
    if (embedded) await queue.obliterate({ force: true }).catch(() => {});
    await queue.close();
    await events.close();
    await eventsConnection.quit().catch(() => {});
    await connection.quit().catch(() => {});
  }
}

/** Prints the results and the differences, rewrites expected files when asked; the exit status. */
async function report(outcomes: Outcome[], options: Options, seconds: number): Promise<number> {
  const c = colours();
  const status = ({ result: r }: Outcome) => (r.status === 'ok' ? c.green('ok') : c.yellow(r.error?.code ?? 'failed'));
  const check = ({ diffs }: Outcome) => (diffs.length === 0 ? c.green('same') : c.red(`${diffs.length} diff`));
  const rows = outcomes.map((o) => [o.file, o.result.dataType ?? '-', status(o), check(o), summary(o.result)]);
  console.log(table(['fixture', 'type', 'status', 'check', 'result'], rows));
  const changed = outcomes.filter((o) => o.diffs.length > 0);
  if (changed.length) {
    const json = (value: unknown) => JSON.stringify(value) ?? '-';
    const diffRows = changed.flatMap((o) => o.diffs.map((d) => [o.file, d.path, c.red(json(d.expected)), c.green(json(d.actual))]));
    console.log(`\n${c.bold('Differences')} (expected → actual)\n${table(['fixture', 'field', 'expected', 'actual'], diffRows)}`);
  }
  if (options.update) {
    for (const o of changed) {
      await writeFile(`${o.path}.expected.json`, `${JSON.stringify(expectedFrom(o.result, o.expected), null, 2)}\n`);
    }
    console.log(`\nrewrote ${changed.length} expected file(s); review them with git diff before committing`);
  }
  console.log(`\n${outcomes.length} fixtures, ${outcomes.length - changed.length} same, ${changed.length} different, in ${seconds.toFixed(1)} s (${(outcomes.length / seconds).toFixed(1)} files/s)`);
  return changed.length && !options.update ? 1 : 0;
}
