/** Small statistics for the benchmark: percentiles, throughput, peak memory of a process. */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

export interface Summary {
  n: number;
  p50: number;
  p95: number;
}

/** Nearest-rank percentile of `values` (ms); 0 for none. */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

export function summarize(values: number[]): Summary {
  return { n: values.length, p50: percentile(values, 50), p95: percentile(values, 95) };
}

/** Peak resident set of a live process (VmHWM), in MiB; undefined when it cannot be read. */
export function peakRssMiB(pid: number): number | undefined {
  try {
    const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith('VmHWM:'));
    const kb = Number(line?.split(/\s+/)[1]);
    return Number.isFinite(kb) ? kb / 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** Clock ticks per second of /proc/<pid>/stat's CPU times (USER_HZ; 100 on Linux unless built otherwise). */
let ticksPerSecond: number | undefined;
function clockTicks(): number {
  if (ticksPerSecond === undefined) {
    try {
      ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      ticksPerSecond = 100;
    }
  }
  return ticksPerSecond;
}

/**
 * CPU time (user + system, every thread) a live process has used so far, in seconds; undefined if unreadable.
 * With `children`, that of its children it has waited for too (cutime + cstime: the ffprobe runs).
 */
export function cpuSeconds(pid: number | 'self' | `${number}/task/${number}`, children = false): number | undefined {
  try {
    // The fields after the command name (which may hold spaces) start at the state, field 3; utime and stime are 14 and 15,
    // cutime and cstime 16 and 17.
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ').at(-1)!.split(' ').map(Number);
    return (f[11]! + f[12]! + (children ? f[13]! + f[14]! : 0)) / clockTicks();
  } catch {
    return undefined;
  }
}

/**
 * CPU seconds of each thread of a Node process by role, from /proc/<pid>/task: `main` (the thread whose id is
 * the pid), `v8` (V8's helper threads: concurrent GC and compilation, the unnamed threads started before libuv's
 * pool), `libuv` (its pool: fs calls, DNS), `threads` (worker threads, in the order they started) and
 * `children` (processes it waited for: ffprobe). A thread that ended is missing from a later reading.
 */
export function threadCpuSeconds(pid: number): { main: number; v8: number; libuv: number; threads: number[]; children: number } {
  const out = { main: 0, v8: 0, libuv: 0, threads: [] as number[], children: 0 };
  let poolSeen = false;
  const tids = readdirSync(`/proc/${pid}/task`).map(Number).sort((a, b) => a - b);
  for (const tid of tids) {
    try {
      const name = readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim();
      const cpu = cpuSeconds(`${pid}/task/${tid}`) ?? 0;
      if (tid === pid) {
        out.main = cpu;
      } else if (name === 'libuv-worker') {
        poolSeen = true;
        out.libuv += cpu;
      } else if (name === 'node') {
        if (poolSeen) out.threads.push(cpu);
        else out.v8 += cpu;
      }
    } catch {
      // The thread ended between the listing and the read.
    }
  }
  out.children = (cpuSeconds(pid, true) ?? 0) - (cpuSeconds(pid) ?? 0);
  return out;
}

/** Summed CPU seconds of every live process whose command name (/proc/<pid>/comm) is one of `names`. */
export function cpuSecondsByName(names: string[]): number {
  let sum = 0;
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      if (names.includes(readFileSync(`/proc/${pid}/comm`, 'utf8').trim())) sum += cpuSeconds(Number(pid)) ?? 0;
    } catch {
      // The process ended between the listing and the read.
    }
  }
  return sum;
}

/** Runs `fn` over `items` with at most `concurrency` in flight, in order of the list. */
export async function mapLimit<T, R>(items: T[], concurrency: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const lanes = Array.from({ length: Math.min(concurrency, items.length) }, async () => {
    for (;;) {
      const i = next++;
      if (i >= items.length) return;
      out[i] = await fn(items[i]!, i);
    }
  });
  await Promise.all(lanes);
  return out;
}

export const round = (x: number, digits = 1): number => Math.round(x * 10 ** digits) / 10 ** digits;
