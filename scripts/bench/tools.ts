/**
 * The trusted tools a team would otherwise run, on the same files: exiftool in one batch process per
 * type (`-fast2 -j -n`), kept open and as a one-shot run, and one process per file for ffprobe (the same bundled binary as the
 * worker), mediainfo, pdfinfo, `qpdf --show-npages` and dcmdump.
 */
import { spawn } from 'node:child_process';
import { defaultFfprobePath } from '../../src/extractors/video/ffprobe.js';
import type { DataType } from '../../src/contract.js';
import type { CorpusFile } from './corpus.js';
import { mapLimit, summarize, type Summary } from './stats.js';

export interface ToolRun {
  tool: string;
  type: DataType;
  files: number;
  seconds: number;
  filesPerSec: number;
  /** Per-file wall time (ms); for a batch tool, the batch's time over its files. */
  perFile: Summary;
  failures: number;
  /** exiftool: the time to its first answer (Perl and its modules loading), left out of its rate. */
  startupMs?: number;
}

/** Runs a command to its end; resolves with its exit code (stdout is read and dropped, as a caller would parse it). */
function exec(cmd: string, args: string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'ignore'] });
    child.stdout.on('data', () => {});
    child.on('error', reject);
    child.on('close', (code) => resolve(code ?? 1));
  });
}

/** Per-file tools for each type; exiftool is run for every type. */
const perFileTools: Record<string, { types: DataType[]; cmd: () => string; args: (file: string) => string[] }> = {
  ffprobe: {
    types: ['video', 'audio'],
    cmd: defaultFfprobePath,
    args: (f) => ['-v', 'error', '-print_format', 'json', '-show_format', '-show_streams', f],
  },
  mediainfo: { types: ['video', 'audio', 'image'], cmd: () => 'mediainfo', args: (f) => ['--Output=JSON', f] },
  pdfinfo: { types: ['pdf'], cmd: () => 'pdfinfo', args: (f) => [f] },
  qpdf: { types: ['pdf'], cmd: () => 'qpdf', args: (f) => ['--show-npages', f] },
  dcmdump: { types: ['dicom'], cmd: () => 'dcmdump', args: (f) => ['-q', '+P', '0008,0060', f] },
};

async function timedPerFile(tool: string, type: DataType, files: CorpusFile[], concurrency: number): Promise<ToolRun> {
  const spec = perFileTools[tool]!;
  const cmd = spec.cmd();
  const times: number[] = [];
  let failures = 0;
  const t0 = performance.now();
  await mapLimit(files, concurrency, async (f) => {
    const s = performance.now();
    const code = await exec(cmd, spec.args(f.path));
    times.push(performance.now() - s);
    // qpdf exits 3 for warnings, still with a page count.
    if (code !== 0 && !(tool === 'qpdf' && code === 3)) failures++;
  });
  const seconds = (performance.now() - t0) / 1000;
  return { tool, type, files: files.length, seconds, filesPerSec: files.length / seconds, perFile: summarize(times), failures };
}

/**
 * exiftool as a long-running batch process (`-stay_open`, as a service would keep it), for one type: started
 * once and given one file to load its modules (its start-up is left out of its rate, as the worker's own
 * is); then `time()` reads the type's files `rounds` times over (as many as the in-process path reads) in
 * one `-execute`. The in-process path calls it between its own timed runs (in-process.ts), so that both
 * are measured in the same moments of a shared machine; the median of its runs is reported.
 */
export async function keptOpenExiftool(type: DataType, files: CorpusFile[], rounds: number) {
  const paths = Array.from({ length: exiftoolRounds(type, rounds) }, () => files.map((f) => f.path)).flat();
  const child = spawn('exiftool', ['-stay_open', 'True', '-@', '-'], { stdio: ['pipe', 'pipe', 'ignore'] });
  const closed = new Promise<void>((resolve) => child.once('close', () => resolve()));
  let out = '';
  let waiting: (() => void) | undefined;
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (c: string) => {
    out += c;
    if (out.includes('{ready}') && waiting) waiting();
  });
  const execute = (args: string[]): Promise<string> =>
    new Promise((resolve, reject) => {
      out = '';
      void closed.then(() => reject(new Error('exiftool exited')));
      waiting = () => {
        waiting = undefined;
        resolve(out.slice(0, out.indexOf('{ready}')));
      };
      child.stdin.write(`${[...args, '-execute'].join('\n')}\n`);
    });
  const s0 = performance.now();
  await execute(['-fast2', '-j', '-n', files[0]!.path]);
  const startupMs = performance.now() - s0;
  const times: number[] = [];
  let read = 0;
  return {
    /** One timed read of all the paths (PDFs: only the first call reads, see exiftoolRounds). */
    async time(): Promise<void> {
      if (type === 'pdf' && times.length > 0) return;
      const t0 = performance.now();
      const json = await execute(['-fast2', '-j', '-n', ...paths]);
      times.push((performance.now() - t0) / 1000);
      read = (JSON.parse(json || '[]') as unknown[]).length;
    },
    async close(): Promise<ToolRun> {
      child.stdin.end('-stay_open\nFalse\n');
      await closed;
      const seconds = [...times].sort((a, b) => a - b)[Math.floor(times.length / 2)] ?? NaN;
      const each = (seconds * 1000) / paths.length;
      return {
        tool: 'exiftool', type, files: paths.length, seconds, filesPerSec: paths.length / seconds,
        perFile: { n: paths.length, p50: each, p95: each }, failures: paths.length - read, startupMs,
      };
    },
  };
}

/**
 * exiftool as it is usually run: one process over the same files, its start-up (~0.1 s of Perl)
 * included. Shown beside the kept-open figure; the targets are judged on the kept-open one.
 */
async function exiftoolOneShot(type: DataType, files: CorpusFile[], rounds: number): Promise<ToolRun> {
  const paths = Array.from({ length: rounds }, () => files.map((f) => f.path)).flat();
  const t0 = performance.now();
  const code = await exec('exiftool', ['-fast2', '-j', '-n', ...paths]);
  const seconds = (performance.now() - t0) / 1000;
  const each = (seconds * 1000) / paths.length;
  return {
    tool: 'exiftool-oneshot', type, files: paths.length, seconds, filesPerSec: paths.length / seconds,
    perFile: { n: paths.length, p50: each, p95: each }, failures: code === 0 ? 0 : 1,
  };
}

/**
 * exiftool reads PDFs slowly (5-7 s for each AES-256 file: its key derivation is in Perl), and no target
 * compares PDFs with it: one round of them is enough for its cell.
 */
const exiftoolRounds = (type: DataType, rounds: number): number => (type === 'pdf' ? 1 : rounds);

/**
 * Every tool on every type it reads but kept-open exiftool (timed with the in-process path). Per-file
 * tools run at `concurrency` processes at a time (cores), as the in-process path runs; exiftool is one
 * process per type, as its batch mode is used.
 */
export async function measureTools(byType: Map<DataType, CorpusFile[]>, concurrency: number, rounds: number): Promise<ToolRun[]> {
  const runs: ToolRun[] = [];
  for (const [type, files] of byType) {
    runs.push(await exiftoolOneShot(type, files, exiftoolRounds(type, rounds)));
    for (const [tool, spec] of Object.entries(perFileTools)) {
      if (spec.types.includes(type)) runs.push(await timedPerFile(tool, type, files, concurrency));
    }
  }
  return runs;
}

/** Bare ffprobe one file at a time: the per-file latency the video extractor is judged against. */
export async function ffprobeSerial(files: CorpusFile[]): Promise<ToolRun> {
  return timedPerFile('ffprobe', 'video', files, 1);
}
