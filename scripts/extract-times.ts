/**
 * `tsx scripts/extract-times.ts [--reps N] [dir]`: per data type, the median and 95th percentile time to
 * detect and extract one file of the fixtures (or of `dir`, laid out as <type>/<file>), measured twice:
 *
 * - in-process: `extractFile` called directly, as `asset-meta probe` would without its thread pool;
 * - thread: the same call through `ExtractPool` (one worker thread, heap-limited, as the worker runs it),
 *   so the difference is what the isolation costs per file (message passing, structured clone).
 *
 * Each file is run once first and that run is thrown away (module loading, pdf.js and sharp start-up,
 * ffprobe's first start), then N more times with each runner, alternating; every run is a sample. Files
 * run one at a time, so the numbers are the latency of one file, not throughput; on a busy machine run
 * it twice and compare. Failed fixtures
 * (truncated, encrypted, unsupported) are timed too: failing is part of the work.
 */
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { ExtractConfig } from '../src/config.js';
import { extractFile } from '../src/extractors/extract-file.js';
import { ExtractPool } from '../src/extractors/pool/isolate.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const config: ExtractConfig = { timeoutMs: 60_000, maxHeapMb: 256, pdfMaxPageSizes: 10_000, dicomIncludePhi: false };

type Runner = (file: string) => Promise<unknown>;

/** Files by type folder: the fixtures that have an expected.json, or every file of a given directory. */
function filesByType(dir: string, fixturesOnly: boolean): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const type of readdirSync(dir, { withFileTypes: true }).filter((d) => d.isDirectory())) {
    const files = readdirSync(path.join(dir, type.name))
      .filter((f) => !f.endsWith('.expected.json'))
      .map((f) => path.join(dir, type.name, f))
      .filter((f) => statSync(f).isFile() && (!fixturesOnly || safeIsFile(`${f}.expected.json`)));
    if (files.length) out.set(type.name, files.sort());
  }
  return out;
}

function safeIsFile(f: string): boolean {
  try {
    return statSync(f).isFile();
  } catch {
    return false;
  }
}

/** The q-quantile of sorted samples, nearest rank. */
function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] as number;
}

/**
 * Times every file with both runners, alternating them run by run, so that a load change on the machine
 * falls on both alike rather than on whichever ran second.
 */
async function samples(files: string[], reps: number, runners: [Runner, Runner]): Promise<[number[], number[]]> {
  const out: [number[], number[]] = [[], []];
  const time = async (run: Runner, file: string): Promise<number> => {
    const t0 = performance.now();
    await run(file).catch(() => undefined); // a failure (CORRUPT_ASSET, ...) is timed like a success
    return performance.now() - t0;
  };
  for (const file of files) {
    for (const run of runners) await run(file).catch(() => undefined); // warm-up, not counted
    for (let i = 0; i < reps; i++) {
      out[0].push(await time(runners[0], file));
      out[1].push(await time(runners[1], file));
    }
  }
  return [out[0].sort((a, b) => a - b), out[1].sort((a, b) => a - b)];
}

const ms = (v: number): string => (v < 10 ? v.toFixed(2) : v.toFixed(1)).padStart(8);

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({ allowPositionals: true, options: { reps: { type: 'string', default: '10' } } });
  const reps = Math.max(1, Number(values.reps));
  const dir = positionals[0] ? path.resolve(positionals[0]) : path.join(root, 'fixtures');
  const byType = filesByType(dir, !positionals[0]);
  const pool = new ExtractPool(1, config.maxHeapMb);
  const inProcess: Runner = (f) => extractFile(f, config);
  const threaded: Runner = (f) => pool.run(f, config);
  console.log(`${path.relative(root, dir) || dir}: ${reps} timed runs per file after one warm-up; milliseconds per file`);
  console.log('type     files  in-process median     p95   thread median     p95   thread overhead (median)');
  try {
    for (const [type, files] of byType) {
      const [a, b] = await samples(files, reps, [inProcess, threaded]);
      const [am, ap, bm, bp] = [quantile(a, 0.5), quantile(a, 0.95), quantile(b, 0.5), quantile(b, 0.95)];
      console.log(`${type.padEnd(8)} ${String(files.length).padStart(5)}  ${ms(am)}          ${ms(ap)}  ${ms(bm)}       ${ms(bp)}  ${ms(bm - am)}`);
    }
  } finally {
    await pool.close();
  }
}

await main();
