/**
 * `npm run bench [-- --quick] [-- --out DIR]`: the benchmark (`-- --queue-cost`: a replica's CPU per job
 * beyond extraction, see queue-cost.ts). Makes a corpus in a temp
 * directory, then measures side by side in one run (a) the in-process path per type, (b) the queue path
 * through the dev S3 server, Redis and PostgreSQL at concurrency 1, 4, 16 with one and two replicas,
 * and the large objects one at a time (ranged and full), (c) the trusted tools on the same files.
 * Prints a Markdown table with the ratios and writes the numbers as JSON to DIR (default: .bench/). Needs Redis and PostgreSQL (REDIS_URL, DATABASE_URL, as the tests).
 *
 * Sized to finish in under 10 minutes on a 2-core machine; `--quick` in about a minute.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { DataType } from '../../src/contract.js';
import { loadConfig } from '../../src/config.js';
import { startS3Server } from '../dev/s3-server.js';
// The same local services, defaults and schema clean-up as the tests.
import { databaseUrl, dropSchema, redisUrl } from '../../test/helpers/services.js';
import { dataTypes, makeCorpus, type CorpusFile } from './corpus.js';
import { measureInProcess, type Compiled } from './in-process.js';
import { measureLarge } from './large.js';
import { startDelayProxy } from './delay-proxy.js';
import { measureQueueCost, renderCost, type Variant } from './queue-cost.js';
import { measureQueue, upload, type QueueRun } from './queue-path.js';
import { renderTable, targets, type BenchNumbers } from './report.js';
import { ffprobeSerial, keptOpenExiftool, measureTools, type ToolRun } from './tools.js';

const argv = process.argv.slice(2);
const quick = argv.includes('--quick');
const outIndex = argv.indexOf('--out');
const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
/** `.bench/` is git-ignored: the numbers and the compiled worker live there. */
const outDir = outIndex >= 0 && argv[outIndex + 1] ? path.resolve(argv[outIndex + 1]!) : path.join(repo, '.bench');

const log = (msg: string) => process.stderr.write(`[bench ${Math.round(performance.now() / 1000)}s] ${msg}\n`);

/** The comparable part of a result: what was found, not when or how fast. */
function found(r: { status: string; dataType?: string; mimeType?: string } & Record<string, unknown>): string {
  return JSON.stringify({ status: r.status, dataType: r.dataType, mimeType: r.mimeType, section: r.dataType ? r[r.dataType] : r.error });
}

/**
 * Compiles the worker as `npm run build` does, into `.bench/dist-<pid>` (inside the repository, so that
 * its imports find node_modules), and loads the modules the in-process path needs from there. `tree`: the
 * sources of another revision (--baseline), compiled to `tree/dist`.
 */
async function compile(tree = repo): Promise<{ distDir: string; lib: Compiled }> {
  const distDir = tree === repo ? path.join(repo, '.bench', `dist-${process.pid}`) : path.join(tree, 'dist');
  try {
    execFileSync(path.join(repo, 'node_modules/.bin/tsc'), ['-p', path.join(tree, 'tsconfig.json'), '--outDir', distDir], { stdio: 'pipe' });
  } catch (err) {
    // tsc writes the JavaScript even when it reports type errors; only a missing output is fatal.
    log(`tsc reported: ${String((err as { stdout?: Buffer }).stdout ?? err).slice(0, 500)}`);
  }
  const load = (rel: string) => import(pathToFileURL(path.join(distDir, rel)).href);
  const [isolate, probe] = await Promise.all([load('src/extractors/pool/isolate.js'), load('src/probe.js')]);
  return { distDir, lib: { ExtractPool: isolate.ExtractPool, probeFile: probe.probeFile } as Compiled };
}

const option = (name: string) => {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : undefined;
};

/** `--queue-cost`: see queue-cost.ts. */
async function queueCost(): Promise<void> {
  const delayMs = Number(option('--store-delay-ms') ?? 50);
  const rounds = Number(option('--rounds') ?? 2);
  const baseline = option('--baseline');
  const cpuProf = option('--cpu-prof');
  const work = mkdtempSync(path.join(os.tmpdir(), 'asset-meta-bench-'));
  const schema = `bench_${Date.now().toString(36)}`;
  const s3 = await startS3Server();
  const proxy = await startDelayProxy(s3.endpoint, delayMs);
  const built: string[] = [];
  try {
    log('compiling the worker');
    const variants: Variant[] = [];
    const current = await compile();
    built.push(current.distDir);
    if (baseline) {
      // The other revision's sources, from git, built beside this one: both measured in the same rounds.
      const tree = path.join(repo, '.bench', `base-${process.pid}`);
      mkdirSync(tree, { recursive: true });
      built.push(tree);
      execFileSync('sh', ['-c', `git -C "${repo}" archive "$0" | tar -x -C "${tree}"`, baseline]);
      log(`compiling ${baseline}`);
      variants.push({ label: `baseline ${baseline}`, ...(await compile(tree)) });
    }
    variants.push({ label: 'current', ...current });
    const corpusDir = path.join(work, 'corpus');
    mkdirSync(corpusDir);
    const { small } = await makeCorpus(corpusDir, { quick: true, smallOnly: true });
    const files = dataTypes.flatMap((t) => small.filter((f) => f.type === t).slice(0, 10));
    await upload(s3, files);
    log(`${files.length} files × 5 jobs, store ${delayMs} ms away, ${rounds} round(s)`);
    const env = { s3, redisUrl, databaseUrl, schema, tmpDir: path.join(work, 'tmp'), distDir: current.distDir, storeEndpoint: proxy.endpoint };
    const { runs, profiles } = await measureQueueCost({
      env, variants, files, copies: 5, warmupBatches: Number(option('--warmup') ?? 1), timedBatches: Math.max(1, Number(option('--timed') ?? 3)), concurrencies: [16, 64], rounds, extractConfig: loadConfig({}).extract,
      ...(cpuProf ? { cpuProfDir: path.resolve(cpuProf) } : {}), log,
    });
    process.stdout.write(`${renderCost(runs, profiles, delayMs)}\n`);
    mkdirSync(outDir, { recursive: true });
    const jsonPath = path.join(outDir, `queue-cost-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
    writeFileSync(jsonPath, JSON.stringify({ delayMs, rounds, baseline, runs, profiles, node: process.version }, null, 2));
    log(`numbers written to ${jsonPath}`);
  } finally {
    await proxy.close();
    await s3.close();
    await dropSchema(schema).catch(() => {});
    rmSync(work, { recursive: true, force: true });
    for (const dir of built) rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  if (argv.includes('--queue-cost')) return queueCost();
  const cores = os.availableParallelism();
  const work = mkdtempSync(path.join(os.tmpdir(), 'asset-meta-bench-'));
  const schema = `bench_${Date.now().toString(36)}`;
  const s3 = await startS3Server();
  let distDir: string | undefined;
  try {
    log('compiling the worker');
    const compiled = await compile();
    distDir = compiled.distDir;
    log(`making the corpus in ${work}${quick ? ' (quick)' : ''}`);
    const corpusDir = path.join(work, 'corpus');
    mkdirSync(corpusDir);
    const { small, large } = await makeCorpus(corpusDir, { quick });
    const byType = new Map<DataType, CorpusFile[]>(dataTypes.map((t) => [t, small.filter((f) => f.type === t)]));
    log(`${small.length} small files, ${large.length} large (${Math.round(large.reduce((s, f) => s + f.bytes, 0) / 2 ** 20)} MB); uploading`);
    await upload(s3, [...small, ...large]);

    const extractConfig = loadConfig({}).extract;
    // The in-process path and exiftool's batch read each type's files this many times over.
    const rounds = quick ? 1 : 4;
    log(`(a) in-process, ${rounds} round(s) a type`);
    const exiftools: ToolRun[] = [];
    const inProcess = await measureInProcess(byType, large, extractConfig, cores, compiled.lib, rounds, async (type, files) => {
      const tool = await keptOpenExiftool(type, files, rounds);
      return { time: () => tool.time(), close: async () => exiftools.push(await tool.close()) };
    });
    log('(c) trusted tools');
    const tools = [...exiftools, ...(await measureTools(byType, cores, rounds))];
    const serial = await ffprobeSerial(byType.get('video') ?? []);

    const env = { s3, redisUrl, databaseUrl, schema, tmpDir: path.join(work, 'tmp'), distDir };
    log('(b) queue path');
    // The queue path runs the same small files as (a) (12 a type with --quick): long enough runs that
    // a replica's steady rate, not its first second, is what is measured.
    const perType = quick ? 12 : 50;
    const queueFiles = [...byType.values()].flatMap((files) => files.slice(0, perType));
    const queue: QueueRun[] = [];
    for (const replicas of [1, 2]) {
      for (const concurrency of [1, 4, 16]) {
        const withLarge = concurrency === 16;
        queue.push(await measureQueue(env, queueFiles, large, replicas, concurrency, withLarge, {}));
        log(`  ${replicas} replica(s), concurrency ${concurrency}: ${Math.round(queue.at(-1)!.filesPerSec)} files/s`);
      }
    }
    log('large objects, ranged then full');
    const largeRuns = await measureLarge(s3, path.join(work, 'tmp-large'), large, compiled.lib);
    const mismatches = largeRuns
      .filter((r) => found(r.result) !== found(inProcess.results.get(large.find((f) => f.label === r.label)!.path)!))
      .map((r) => `${r.label} (${r.mode})`);

    const numbers: BenchNumbers = { quick, cores, rounds, inProcess, tools, ffprobeSerial: serial, queue, large: largeRuns, mismatches };
    const table = renderTable(numbers);
    process.stdout.write(`${table}\n`);
    mkdirSync(outDir, { recursive: true });
    const jsonPath = path.join(outDir, `bench-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
    writeFileSync(jsonPath, JSON.stringify({ ...numbers, inProcess: { ...inProcess, results: undefined }, targets: targets(numbers), node: process.version, machine: { cores, memMiB: Math.round(os.totalmem() / 2 ** 20) } }, null, 2));
    log(`numbers written to ${jsonPath}`);
  } finally {
    await s3.close();
    await dropSchema(schema).catch(() => {});
    rmSync(work, { recursive: true, force: true });
    if (distDir) rmSync(distDir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
