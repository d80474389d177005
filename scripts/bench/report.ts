/**
 * The benchmark's table and its verdicts on the targets it reports for information (docs/performance.md), from one run's numbers. Ratios only
 * compare numbers measured in the same run on the same files.
 */
import type { DataType } from '../../src/contract.js';
import type { InProcess } from './in-process.js';
import type { LargeRun } from './large.js';
import type { QueueRun } from './queue-path.js';
import { round } from './stats.js';
import type { ToolRun } from './tools.js';

export interface BenchNumbers {
  quick: boolean;
  cores: number;
  /** How many times the in-process path and exiftool's batch read each type's files. */
  rounds: number;
  inProcess: InProcess;
  tools: ToolRun[];
  ffprobeSerial: ToolRun;
  queue: QueueRun[];
  large: LargeRun[];
  /** Ranged results that differ from the full local read of the same file (labels). */
  mismatches: string[];
}

export interface Target {
  target: string;
  measured: string;
  met: boolean;
}

const MiB = 1024 * 1024;
const fmt = (x: number) => (x >= 100 ? String(Math.round(x)) : String(round(x, x >= 10 ? 1 : 2)));

function tool(n: BenchNumbers, name: string, type: DataType): ToolRun | undefined {
  return n.tools.find((t) => t.tool === name && t.type === type);
}

/** In-process throughput over all small files: files over the summed time of the per-type runs. */
export function inProcessOverall(n: BenchNumbers): number {
  const files = n.inProcess.runs.reduce((s, r) => s + r.files, 0);
  return files / n.inProcess.runs.reduce((s, r) => s + r.seconds, 0);
}

/** Every small corpus file is one whose expected result is ok: a failure there is a bug, and fast failures prove nothing. */
function failedNote(r: { failures: number; files: number }): string {
  return r.failures ? `, but ${r.failures} of ${r.files} files failed` : '';
}

/** In-process CPU per file over all small files (every thread of the process). */
export function inProcessCpuMsPerFile(n: BenchNumbers): number {
  const files = n.inProcess.runs.reduce((s, r) => s + r.files, 0);
  return n.inProcess.runs.reduce((s, r) => s + r.cpuMsPerFile * r.files, 0) / files;
}

export function targets(n: BenchNumbers): Target[] {
  const out: Target[] = [];
  const vsExif = (type: DataType, factor: number) => {
    const ours = n.inProcess.runs.find((r) => r.type === type)!;
    const ex = tool(n, 'exiftool', type)!;
    const ratio = ours.filesPerSec / ex.filesPerSec;
    const once = tool(n, 'exiftool-oneshot', type);
    const onceNote = once ? `; ${fmt(ours.filesPerSec / once.filesPerSec)}× its one-shot batch, start-up included` : '';
    out.push({ target: `${type} ≥ ${factor}× exiftool batch`, measured: `${fmt(ratio)}× (${fmt(ours.filesPerSec)} vs ${fmt(ex.filesPerSec)} files/s, exiftool kept open${onceNote})${failedNote(ours)}`, met: ratio >= factor && ours.failures === 0 });
  };
  vsExif('image', 5);
  vsExif('dicom', 5);
  vsExif('text', 5);
  vsExif('audio', 2);
  vsExif('video', 1.5);
  const pdf = n.inProcess.runs.find((r) => r.type === 'pdf')!;
  const qpdf = tool(n, 'qpdf', 'pdf')!;
  out.push({ target: 'pdf ≥ 1.5× qpdf --show-npages (with every page size)', measured: `${fmt(pdf.filesPerSec / qpdf.filesPerSec)}× (${fmt(pdf.filesPerSec)} vs ${fmt(qpdf.filesPerSec)} files/s)${failedNote(pdf)}`, met: pdf.filesPerSec / qpdf.filesPerSec >= 1.5 && pdf.failures === 0 });
  const perFile = n.inProcess.videoSerial.p50 / n.ffprobeSerial.perFile.p50;
  out.push({ target: 'video per file ≤ 1.15× bare ffprobe (p50, one at a time)', measured: `${fmt(perFile)}× (${fmt(n.inProcess.videoSerial.p50)} vs ${fmt(n.ffprobeSerial.perFile.p50)} ms)`, met: perFile <= 1.15 });
  const overall = inProcessOverall(n);
  for (const q of n.queue.filter((r) => r.concurrency === 16)) {
    const share = q.filesPerSec / overall;
    out.push({ target: `queue path ≥ 70% of in-process at concurrency 16, ${q.replicas} replica(s)`, measured: `${Math.round(share * 100)}% (${fmt(q.filesPerSec)} vs ${fmt(overall)} files/s)`, met: share >= 0.7 });
  }
  const rss = n.queue.filter((r) => r.concurrency === 16 && r.withLarge).flatMap((r) => r.peakRssMiB);
  out.push({ target: 'peak RSS per replica ≤ 300 MB at concurrency 16, large files in the mix', measured: `${Math.round(Math.max(...rss))} MB max`, met: Math.max(...rss) <= 300 });
  for (const l of n.large.filter((r) => r.mode === 'ranged' && r.bytes > 16 * MiB && !r.label.startsWith('wav'))) {
    const share = l.fetched / l.bytes;
    out.push({ target: `bytes fetched ≤ 5%: ${l.label}`, measured: `${round(share * 100, 2)}% (${fmt(l.fetched / MiB)} MB)`, met: share <= 0.05 });
  }
  const videos = n.large.filter((r) => r.mode === 'ranged' && r.label.startsWith('video') && r.label.includes('moov at end'));
  if (videos.length >= 2) {
    const small = videos.reduce((a, b) => (a.bytes < b.bytes ? a : b));
    const big = videos.reduce((a, b) => (a.bytes > b.bytes ? a : b));
    const growth = big.seconds / small.seconds;
    out.push({ target: `time to result roughly flat (≤ 2×) from ${fmt(small.bytes / MiB)} MB to ${fmt(big.bytes / MiB)} MB video`, measured: `${fmt(growth)}× (${fmt(small.seconds * 1000)} → ${fmt(big.seconds * 1000)} ms)`, met: growth <= 2 });
  }
  out.push({ target: 'ranged results identical to full reads (large files)', measured: n.mismatches.length ? `differ: ${n.mismatches.join(', ')}` : 'all identical', met: n.mismatches.length === 0 });
  return out;
}

/** exiftool's start-up times (first answer) over the types, as a range. */
function startups(n: BenchNumbers): string {
  const ms = n.tools.map((t) => t.startupMs).filter((x): x is number => x !== undefined);
  return ms.length ? `${fmt(Math.min(...ms))}-${fmt(Math.max(...ms))}` : '–';
}

/** The table as printed (Markdown, so that docs/performance.md can take it as it is). */
export function renderTable(n: BenchNumbers): string {
  const lines: string[] = [];
  lines.push(`### In-process (detection + sha256 + extraction, ExtractPool, concurrency ${n.cores}) vs trusted tools`, '');
  lines.push('| type | files read | failed | ours files/s | CPU ms/file | hash p50/p95 ms | extract p50/p95 ms | exiftool -fast2 batch, kept open | exiftool one-shot batch | ffprobe | mediainfo | pdfinfo | qpdf --show-npages | dcmdump |');
  lines.push('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const r of n.inProcess.runs) {
    const cell = (name: string) => {
      const t = tool(n, name, r.type);
      return t ? `${fmt(t.filesPerSec)}/s (${fmt(r.filesPerSec / t.filesPerSec)}×)` : '–';
    };
    lines.push(`| ${r.type} | ${r.files} | ${r.failures} | ${fmt(r.filesPerSec)} | ${fmt(r.cpuMsPerFile)} | ${fmt(r.hash.p50)} / ${fmt(r.hash.p95)} | ${fmt(r.extract.p50)} / ${fmt(r.extract.p95)} | ${cell('exiftool')} | ${cell('exiftool-oneshot')} | ${cell('ffprobe')} | ${cell('mediainfo')} | ${cell('pdfinfo')} | ${cell('qpdf')} | ${cell('dcmdump')} |`);
  }
  lines.push(
    '',
    `Tool cells: the tool's files/s (ours ÷ tool). Ours and exiftool read each type's files ${n.rounds} time(s) over, after a first untimed read, in three timed runs each, ours and exiftool's alternating, the medians shown: exiftool as one \`-stay_open\` process a type, its start-up (${startups(n)} ms) left out as the worker's is, and as one plain process over the same files, start-up included (PDFs: one read, exiftool takes seconds over each AES-256 file); per-file tools read them once, ${n.cores} processes at a time, each start included.`,
  );
  lines.push(`Video one file at a time: ours p50 ${fmt(n.inProcess.videoSerial.p50)} ms, bare bundled ffprobe p50 ${fmt(n.ffprobeSerial.perFile.p50)} ms.`, '');

  lines.push('### Queue path (dev S3 server + Redis + PostgreSQL, replicas as child processes)', '');
  lines.push('| replicas | concurrency | files/s | of in-process | CPU ms/file: replicas / S3 server + client / Redis / PostgreSQL | sign p50/p95 | download p50/p95 | extract p50/p95 | total p50/p95 ms | peak RSS per replica MB | failed |');
  lines.push('|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  const overall = inProcessOverall(n);
  for (const q of n.queue) {
    const s = q.stages;
    lines.push(`| ${q.replicas} | ${q.concurrency} | ${fmt(q.filesPerSec)} | ${Math.round((q.filesPerSec / overall) * 100)}% | ${fmt(q.replicaCpuMsPerFile)} / ${fmt(q.besideCpuMsPerFile.s3AndClient)} / ${fmt(q.besideCpuMsPerFile.redis)} / ${fmt(q.besideCpuMsPerFile.postgres)} | ${fmt(s.sign.p50)} / ${fmt(s.sign.p95)} | ${fmt(s.download.p50)} / ${fmt(s.download.p95)} | ${fmt(s.extract.p50)} / ${fmt(s.extract.p95)} | ${fmt(s.total.p50)} / ${fmt(s.total.p95)} | ${q.peakRssMiB.map((m) => Math.round(m)).join(', ')}${q.withLarge ? ' (with large)' : ''} | ${q.failures} |`);
  }
  lines.push(
    '',
    `In-process over all ${n.inProcess.runs.reduce((s, r) => s + r.files, 0)} reads of the small files: ${fmt(overall)} files/s, ${fmt(inProcessCpuMsPerFile(n))} ms of CPU a file.`,
    'All of it runs on the same cores: the replicas, the dev S3 server (s3rver behind its signature-checking proxy) and the client that enqueues and waits (one process, this one), Redis and PostgreSQL. The in-process path has the cores to itself.',
    '',
  );

  lines.push('### Large objects, one at a time through one replica', '');
  lines.push('| object | size MB | mode | time to result ms | bytes fetched | of size | requests | sha256Scope |');
  lines.push('|---|---:|---|---:|---:|---:|---:|---|');
  for (const l of n.large) {
    const scope = (l.result as { sha256Scope?: string }).sha256Scope ?? '–';
    lines.push(`| ${l.label} | ${fmt(l.bytes / MiB)} | ${l.mode} | ${fmt(l.seconds * 1000)} | ${fmt(l.fetched / MiB)} MB | ${round((l.fetched / l.bytes) * 100, 2)}% | ${l.requests} | ${l.result.status === 'ok' ? scope : `failed ${l.result.error?.code}`} |`);
  }
  lines.push('', '### Targets (for information)', '');
  lines.push('| target | measured | met |', '|---|---|---|');
  for (const t of targets(n)) lines.push(`| ${t.target} | ${t.measured} | ${t.met ? 'yes' : 'no'} |`);
  return lines.join('\n');
}
