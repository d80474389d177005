/**
 * (a) The in-process path: what one replica does once the bytes are local, without queue or storage:
 * sha256 of the file, then detection and extraction in the extraction thread pool (ExtractPool), at
 * concurrency = cores. Each type is timed on its own, after a warm-up that starts the threads and one
 * untimed read of its files, over several rounds of them (a round of 50 small files takes 50-300 ms:
 * one round alone is mostly noise), three times: the median of the three is reported.
 */
import type { AssetResult, DataType } from '../../src/contract.js';
import type { ExtractConfig } from '../../src/config.js';
import type { ExtractPool } from '../../src/extractors/pool/isolate.js';
import type { probeFile } from '../../src/probe.js';
import type { CorpusFile } from './corpus.js';
import { mapLimit, summarize, type Summary } from './stats.js';

export interface InProcessRun {
  type: DataType;
  files: number;
  seconds: number;
  filesPerSec: number;
  hash: Summary;
  extract: Summary;
  total: Summary;
  failures: number;
  /** CPU the whole process (every thread) used per file, in ms. */
  cpuMsPerFile: number;
}

export interface InProcess {
  runs: InProcessRun[];
  /** Video files one at a time (total per file), against bare ffprobe. */
  videoSerial: Summary;
  /** Results by file path, to compare with the queue path's (ranged reads must agree). */
  results: Map<string, AssetResult>;
}

/** The compiled modules the path runs (threads of compiled JS, as in production). */
export interface Compiled {
  ExtractPool: typeof ExtractPool;
  probeFile: typeof probeFile;
}

async function runType(
  { probeFile }: Compiled, pool: ExtractPool, config: ExtractConfig, type: DataType, files: CorpusFile[], concurrency: number,
  results: Map<string, AssetResult>, rounds = 1,
) {
  const all = Array.from({ length: rounds }, () => files).flat();
  const hash: number[] = [];
  const extract: number[] = [];
  const total: number[] = [];
  let failures = 0;
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  await mapLimit(all, concurrency, async (f) => {
    const r = await probeFile(f.path, config, (p, c) => pool.probe(p, c), f.path);
    results.set(f.path, r);
    if (r.status !== 'ok') failures++;
    extract.push(r.timingsMs.extract);
    hash.push(r.timingsMs.total - r.timingsMs.extract);
    total.push(r.timingsMs.total);
  });
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const cpuMsPerFile = (cpu.user + cpu.system) / 1000 / all.length;
  return { type, files: all.length, seconds, filesPerSec: all.length / seconds, hash: summarize(hash), extract: summarize(extract), total: summarize(total), failures, cpuMsPerFile };
}

export async function measureInProcess(
  byType: Map<DataType, CorpusFile[]>,
  large: CorpusFile[],
  config: ExtractConfig,
  cores: number,
  lib: Compiled,
  rounds: number,
  /** A tool timed between our own timed runs of each type (kept-open exiftool), so both see the same moments. */
  alongside?: (type: DataType, files: CorpusFile[]) => Promise<{ time(): Promise<void>; close(): Promise<unknown> }>,
): Promise<InProcess> {
  const pool = new lib.ExtractPool(cores, config.maxHeapMb, { execArgv: [] });
  const { probeFile } = lib;
  const results = new Map<string, AssetResult>();
  try {
    // Warm-up: threads started with every extractor loaded (as a replica starts them), then a first run of
    // each type, so the timings below are steady state.
    await pool.warm();
    const warm = [...byType.values()].map((files) => files[0]!);
    await mapLimit([...warm, ...warm], cores, (f) => probeFile(f.path, config, (p, c) => pool.probe(p, c)));
    const runs: InProcessRun[] = [];
    // PDFs last: pdf.js leaves the threads' old generation full of garbage that the next type's runs pay
    // for in collections (DICOM measured right after three PDF runs: 1.0 → 1.8 ms of CPU a file). The
    // table keeps the usual order.
    const order = [...byType].sort(([a], [b]) => Number(a === 'pdf') - Number(b === 'pdf'));
    for (const [type, files] of order) {
      // One untimed read of the type's files first: each thread's JIT has seen its code paths, as a
      // replica's has after its first minutes (exiftool gets the same, see tools.ts).
      await runType(lib, pool, config, type, files, cores, new Map());
      // Three timed runs, each followed by the tool's: the median of each is reported (a run of 200 small
      // files lasts 0.1-0.6 s, and the machine is shared).
      const tool = await alongside?.(type, files);
      const timed = [];
      try {
        for (let i = 0; i < 3; i++) {
          timed.push(await runType(lib, pool, config, type, files, cores, results, rounds));
          await tool?.time();
        }
      } finally {
        await tool?.close();
      }
      runs.push(timed.sort((a, b) => a.filesPerSec - b.filesPerSec)[1]!);
    }
    const listed = [...byType.keys()];
    runs.sort((a, b) => listed.indexOf(a.type) - listed.indexOf(b.type));
    const serial = await runType(lib, pool, config, 'video', byType.get('video') ?? [], 1, new Map());
    // The large files too (local, full read and hash): the reference results for the ranged reads.
    await runType(lib, pool, config, 'video', large, 1, results);
    return { runs, videoSerial: serial.total, results };
  } finally {
    await pool.close();
  }
}
