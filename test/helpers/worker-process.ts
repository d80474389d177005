/**
 * A worker replica as a real child process (`node --import tsx workers/metadata-worker.ts`), for the fault
 * tests: it can be killed with any signal, and its JSON log lines and peak memory can be read. Each child
 * leads its own process group, so that stopping it also stops the ffprobe processes it started.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** One parsed pino line of the child's stdout. */
export type LogLine = Record<string, unknown> & { msg?: string; level?: number };

export interface WorkerProcess {
  readonly pid: number;
  readonly child: ChildProcess;
  /** Every JSON log line so far; lines that are not JSON land in {@link WorkerProcess.stderr}. */
  readonly logs: LogLine[];
  readonly stderr: string[];
  /** Resolves when the child has logged `worker started`; rejects if it exits first. */
  ready(timeoutMs?: number): Promise<void>;
  /** Resolves with the first log line that `match` accepts; rejects if the child exits first or on timeout. */
  logged(match: (line: LogLine) => boolean, timeoutMs?: number): Promise<LogLine>;
  /** Sends a signal to the child's whole process group. */
  kill(signal: NodeJS.Signals): void;
  /** Resolves with the exit code (or the signal that ended it). */
  exited(timeoutMs?: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Peak resident memory of the replica's process so far, in MiB (Linux VmHWM); undefined once it is gone. */
  peakRssMb(): number | undefined;
  /** SIGKILLs the group if still running; for afterAll/finally. */
  stop(): Promise<void>;
}

/** Every child started and not yet stopped: `stopAllWorkers` in an afterAll ends any a test left. */
const running = new Set<WorkerProcess>();
/** Every child this test file started, for the peak-memory figures. */
const started: WorkerProcess[] = [];

/**
 * Starts one replica. `env` is the whole worker environment on top of PATH/HOME (nothing else of the
 * test runner's environment leaks in, so a variable a test forgets is the worker's default).
 */
export function startWorkerProcess(env: Record<string, string>): WorkerProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', 'workers/metadata-worker.ts'], {
    cwd: root,
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: process.env.HOME ?? '/tmp',
      HEALTH_PORT: '0',
      LOG_LEVEL: 'info',
      ...env,
    },
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const pid = child.pid;
  if (pid === undefined) throw new Error('worker process did not start');
  const logs: LogLine[] = [];
  const stderr: string[] = [];
  const listeners = new Set<() => void>();
  let partial = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    const lines = (partial + chunk).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      if (!line.trim()) continue;
      try {
        logs.push(JSON.parse(line) as LogLine);
      } catch {
        stderr.push(line);
      }
    }
    for (const l of listeners) l();
  });
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => stderr.push(chunk));

  let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  const exitPromise = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => {
      exit = { code, signal };
      for (const l of listeners) l();
      resolve(exit);
    }),
  );
  let peak: number | undefined;

  const readPeak = (): number | undefined => {
    if (exit) return peak;
    try {
      const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
      if (m) peak = Math.max(peak ?? 0, Number(m[1]) / 1024);
    } catch {
      // gone between the check and the read
    }
    return peak;
  };

  const proc: WorkerProcess = {
    pid,
    child,
    logs,
    stderr,
    async ready(timeoutMs = 30_000) {
      await proc.logged((l) => l.msg === 'worker started', timeoutMs);
    },
    logged(match, timeoutMs = 30_000) {
      return new Promise<LogLine>((resolve, reject) => {
        const check = () => {
          const line = logs.find(match);
          if (line) return done(() => resolve(line));
          if (exit) return done(() => reject(new Error(`worker exited before the awaited log line: ${stderr.join('')}`)));
        };
        const timer = setTimeout(() => done(() => reject(new Error(`awaited log line not seen in ${timeoutMs} ms: ${stderr.join('')}`))), timeoutMs);
        const done = (fn: () => void) => {
          clearTimeout(timer);
          listeners.delete(check);
          fn();
        };
        listeners.add(check);
        check();
      });
    },
    kill(signal) {
      readPeak();
      if (exit) return;
      try {
        process.kill(-pid, signal);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
      }
    },
    async exited(timeoutMs = 30_000) {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`worker ${pid} did not exit in ${timeoutMs} ms`)), timeoutMs);
      });
      try {
        return await Promise.race([exitPromise, timeout]);
      } finally {
        clearTimeout(timer);
      }
    },
    peakRssMb: readPeak,
    async stop() {
      running.delete(proc);
      if (!exit) {
        proc.kill('SIGKILL');
        await exitPromise;
      }
      // ffprobe children of a killed replica share its group: make sure none outlives it.
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        // the group is empty
      }
    },
  };
  running.add(proc);
  started.push(proc);
  return proc;
}

/** The highest peak RSS of any replica this file started, in MiB (read while each ran). */
export function peakRssOfAllMb(): number {
  return Math.max(0, ...started.map((w) => w.peakRssMb() ?? 0));
}

/** Stops every replica still running (afterAll). */
export async function stopAllWorkers(): Promise<void> {
  await Promise.all([...running].map((w) => w.stop()));
}

/** Samples the peak RSS of replicas every `everyMs` until stopped; returns the highest seen, in MiB. */
export function sampleRss(workers: () => WorkerProcess[], everyMs = 200): { stop(): number } {
  let max = 0;
  const tick = () => {
    for (const w of workers()) max = Math.max(max, w.peakRssMb() ?? 0);
  };
  const timer = setInterval(tick, everyMs);
  return {
    stop() {
      clearInterval(timer);
      tick();
      return max;
    },
  };
}
