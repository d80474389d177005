/**
 * `npm run bench -- --queue-cost [--store-delay-ms 50] [--rounds N] [--warmup N] [--timed N] [--baseline REV] [--cpu-prof DIR]`:
 * what a replica spends per job beyond extraction. 60 small files (10 a type) × 5 jobs each go through
 * one replica at concurrency 16 and 64, with the store behind a proxy that holds every request; beside it,
 * the same 300 files through `probeFile` in an ExtractPool, as `asset-meta probe` reads them. Both CPU
 * figures include the ffprobe children. The overhead is the difference: queue, signing, HTTP, temp
 * file, PostgreSQL, logs, metrics. Each figure is the median of `--timed N` passes (default 3), so that
 * a moment of load elsewhere on the machine moves one pass, not the figure. With `--baseline REV`, that
 * revision is built too and measured in the same rounds, interleaved, so that the machine's load falls on
 * both alike.
 */
import { readdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ExtractConfig } from '../../src/config.js';
import type { CorpusFile } from './corpus.js';
import type { Compiled } from './in-process.js';
import { profileTop, type TopEntry } from './profile-top.js';
import { runBatch, withReplicas, type QueueEnv } from './queue-path.js';
import { cpuSeconds, mapLimit, peakRssMiB, round, threadCpuSeconds } from './stats.js';

export interface Variant {
  label: string;
  distDir: string;
  lib: Compiled;
}

export interface CostRun {
  variant: string;
  round: number;
  concurrency: number;
  jobs: number;
  /** Timed batches of `jobs` each; every figure is their median. */
  batches: number;
  jobsPerSec: number;
  replicaCpuMsPerJob: number;
  probeCpuMsPerFile: number;
  peakRssMiB: number;
  failed: number;
  /** The replica's CPU ms per job by thread (stats.ts `threadCpuSeconds`): worker threads as they started, extraction then fetch. */
  byThread: { main: number; v8: number; libuv: number; threads: number[]; children: number };
}

export interface CostOptions {
  env: QueueEnv;
  variants: Variant[];
  files: CorpusFile[];
  copies: number;
  /** Untimed batches (each as long as a timed one) a replica runs first; the probe as many passes. */
  warmupBatches: number;
  /** Timed batches (passes, for the probe) whose median is the figure. */
  timedBatches: number;
  concurrencies: number[];
  rounds: number;
  extractConfig: ExtractConfig;
  cpuProfDir?: string;
  log(msg: string): void;
}

const selfCpu = () => cpuSeconds('self', true)!;

/** CPU ms per file of probeFile over `files` in a pool of one thread per core, ffprobe included, after as many untimed passes as the replica's warm-up. */
async function probeCost(lib: Compiled, files: CorpusFile[], config: ExtractConfig, warmupPasses: number, timedPasses: number): Promise<number> {
  const cores = os.availableParallelism();
  const pool = new lib.ExtractPool(cores, config.maxHeapMb, { execArgv: [] });
  try {
    await pool.warm();
    const read = () => mapLimit(files, cores, (f) => lib.probeFile(f.path, config, (p, c) => pool.probe(p, c)));
    for (let i = 0; i < warmupPasses; i++) await read();
    const passes: number[] = [];
    for (let i = 0; i < timedPasses; i++) {
      const before = selfCpu();
      await read();
      passes.push(((selfCpu() - before) * 1000) / files.length);
    }
    return median(passes);
  } finally {
    await pool.close();
  }
}

let batches = 0;

async function replicaCost(options: CostOptions, variant: Variant, concurrency: number, jobs: CorpusFile[], execArgv: string[] = []) {
  const env = { ...options.env, distDir: variant.distDir };
  return withReplicas(env, 1, concurrency, {}, async (queue, events, [replica]) => {
    const pid = replica!.child.pid!;
    // Untimed: batches as long as the timed one, so that the JIT's work (V8's helper threads) is mostly
    // done, as in a replica past its first minutes. Functions still get hot for the first time well into
    // the second batch (docs/performance.md), so fewer warm-up batches count some of it as cost.
    for (let i = 0; i < options.warmupBatches; i++) await runBatch(queue, events, jobs, `w${++batches}`);
    const batch = async () => {
      const before = cpuSeconds(pid, true)!;
      const threadsBefore = threadCpuSeconds(pid);
      const { seconds, results } = await runBatch(queue, events, jobs, `t${++batches}`);
      const threadsAfter = threadCpuSeconds(pid);
      for (const r of results.filter((r) => r.status !== 'ok').slice(0, 5)) options.log(`  failed: ${r.assetId}: ${r.error?.code} ${r.error?.message}`);
      const perJob = (after: number, before = 0) => ((after - before) * 1000) / jobs.length;
      return {
        jobsPerSec: jobs.length / seconds,
        replicaCpuMsPerJob: perJob(cpuSeconds(pid, true)!, before),
        byThread: {
          main: perJob(threadsAfter.main, threadsBefore.main),
          v8: perJob(threadsAfter.v8, threadsBefore.v8),
          libuv: perJob(threadsAfter.libuv, threadsBefore.libuv),
          threads: threadsAfter.threads.map((t, i) => perJob(t, threadsBefore.threads[i])),
          children: perJob(threadsAfter.children, threadsBefore.children),
        },
        failed: results.filter((r) => r.status !== 'ok').length,
      };
    };
    const timed: Awaited<ReturnType<typeof batch>>[] = [];
    for (let i = 0; i < options.timedBatches; i++) timed.push(await batch());
    // Each figure its median over the timed batches; failures summed.
    const m = (f: (b: (typeof timed)[number]) => number) => median(timed.map(f));
    return {
      jobsPerSec: m((b) => b.jobsPerSec),
      replicaCpuMsPerJob: m((b) => b.replicaCpuMsPerJob),
      byThread: {
        main: m((b) => b.byThread.main),
        v8: m((b) => b.byThread.v8),
        libuv: m((b) => b.byThread.libuv),
        threads: timed[0]!.byThread.threads.map((_, i) => m((b) => b.byThread.threads[i] ?? NaN)),
        children: m((b) => b.byThread.children),
      },
      peakRssMiB: peakRssMiB(pid) ?? NaN,
      failed: timed.reduce((n, b) => n + b.failed, 0),
    };
  }, execArgv);
}

export async function measureQueueCost(options: CostOptions): Promise<{ runs: CostRun[]; profiles: Record<string, TopEntry[]> }> {
  const jobs = Array.from({ length: options.copies }, () => options.files).flat();
  const runs: CostRun[] = [];
  for (let r = 1; r <= options.rounds; r++) {
    // The variants back to back at each step, in an order alternating from round to round, so that a change
    // of the machine's load falls on both alike and their difference can be read round by round.
    const order = r % 2 ? options.variants : [...options.variants].reverse();
    const probe = new Map<Variant, number>();
    for (const variant of order) probe.set(variant, await probeCost(variant.lib, jobs, options.extractConfig, options.warmupBatches, options.timedBatches));
    for (const concurrency of options.concurrencies) {
      for (const variant of order) {
        const probeCpuMsPerFile = probe.get(variant)!;
        const run = await replicaCost(options, variant, concurrency, jobs);
        runs.push({ variant: variant.label, round: r, concurrency, jobs: jobs.length, batches: options.timedBatches, probeCpuMsPerFile, ...run });
        options.log(`  round ${r} ${variant.label} c${concurrency}: ${round(run.replicaCpuMsPerJob, 2)} ms/job, probe ${round(probeCpuMsPerFile, 2)} ms/file, ${Math.round(run.jobsPerSec)} jobs/s`);
      }
    }
  }
  const profiles: Record<string, TopEntry[]> = {};
  if (options.cpuProfDir) {
    for (const variant of options.variants) {
      const dir = path.join(options.cpuProfDir, variant.label.replace(/\W+/g, '-'));
      await replicaCost(options, variant, options.concurrencies[0]!, jobs, ['--cpu-prof', '--cpu-prof-dir', dir]);
      // The main thread's profile: its thread id (the name's fifth field) is 0.
      const main = readdirSync(dir).find((f) => f.split('.')[4] === '0');
      if (main) profiles[variant.label] = profileTop(path.join(dir, main), 15);
    }
  }
  return { runs, profiles };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)]!;
const range = (xs: number[]) => (xs.length > 1 ? ` (${round(Math.min(...xs), 1)}-${round(Math.max(...xs), 1)})` : '');

export function renderCost(runs: CostRun[], profiles: Record<string, TopEntry[]>, delayMs: number): string {
  const lines = [
    `#### Queue path cost: one replica, store ${delayMs} ms away, ${runs[0]?.jobs ?? 0} jobs a batch, each run the median of ${runs[0]?.batches ?? 0} timed batches (median over rounds, range in brackets)`,
    '',
    '| variant | concurrency | jobs/s | replica CPU ms/job | probe CPU ms/file | overhead ms/job | peak RSS MB | failed |',
    '|---|---:|---:|---:|---:|---:|---:|---:|',
  ];
  const keys = [...new Set(runs.map((r) => `${r.variant}\u0000${r.concurrency}`))];
  for (const key of keys) {
    const [variant, c] = key.split('\u0000');
    const rs = runs.filter((r) => r.variant === variant && r.concurrency === Number(c));
    const col = (f: (r: CostRun) => number) => `${round(median(rs.map(f)), 2)}${range(rs.map(f))}`;
    lines.push(`| ${variant} | ${c} | ${col((r) => r.jobsPerSec)} | ${col((r) => r.replicaCpuMsPerJob)} | ${col((r) => r.probeCpuMsPerFile)} | ` +
      `${col((r) => r.replicaCpuMsPerJob - r.probeCpuMsPerFile)} | ${Math.round(Math.max(...rs.map((r) => r.peakRssMiB)))} | ${rs.reduce((s, r) => s + r.failed, 0)} |`);
  }
  lines.push('', 'CPU: user + system of every thread, with the ffprobe children, from /proc; the probe reads the same files in this process.');
  const variants = [...new Set(runs.map((r) => r.variant))];
  if (variants.length === 2) {
    // Paired by round: the two variants ran back to back, so the machine's drift mostly cancels out.
    const [base, cur] = variants as [string, string];
    lines.push('', `${cur} minus ${base}, ms/job, each round's pair (median, range in brackets):`, '',
      '| concurrency | replica CPU | overhead | rounds |', '|---:|---:|---:|---:|');
    for (const c of [...new Set(runs.map((r) => r.concurrency))]) {
      const pairs = runs.filter((r) => r.variant === cur && r.concurrency === c)
        .map((a) => [a, runs.find((b) => b.variant === base && b.concurrency === c && b.round === a.round)!] as const);
      const diff = (f: (r: CostRun) => number) => {
        const ds = pairs.map(([a, b]) => f(a) - f(b));
        return `${round(median(ds), 2)}${ds.length > 1 ? ` (${round(Math.min(...ds), 2)} to ${round(Math.max(...ds), 2)})` : ''}`;
      };
      lines.push(`| ${c} | ${diff((r) => r.replicaCpuMsPerJob)} | ${diff((r) => r.replicaCpuMsPerJob - r.probeCpuMsPerFile)} | ${pairs.length} |`);
    }
  }
  lines.push('', 'Replica CPU ms/job by thread (median over rounds): main; V8 helpers (GC, compilation); worker threads as they started (extraction, fetch); libuv pool; ffprobe children', '',
    '| variant | concurrency | main | V8 helpers | worker threads | libuv | children |', '|---|---:|---:|---:|---:|---:|---:|');
  for (const key of keys) {
    const [variant, c] = key.split('\u0000');
    const rs = runs.filter((r) => r.variant === variant && r.concurrency === Number(c));
    const m = (f: (r: CostRun) => number) => round(median(rs.map(f)), 2);
    const threads = rs[0]!.byThread.threads.map((_, i) => m((r) => r.byThread.threads[i] ?? NaN)).join(' / ');
    lines.push(`| ${variant} | ${c} | ${m((r) => r.byThread.main)} | ${m((r) => r.byThread.v8)} | ${threads} | ${m((r) => r.byThread.libuv)} | ${m((r) => r.byThread.children)} |`);
  }
  for (const [variant, top] of Object.entries(profiles)) {
    lines.push('', `Top self time, ${variant}, replica main thread:`, '', '| ms | share | function |', '|---:|---:|---|');
    for (const e of top) lines.push(`| ${Math.round(e.selfMs)} | ${round(e.share * 100, 1)}% | \`${e.name}\` |`);
  }
  return lines.join('\n');
}
