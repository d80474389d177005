/**
 * The replica's fetch threads: every fetch (HTTP client, range planners, temp-file writes) runs in one of
 * a few threads, so that an exception nothing can catch (undici 7 threw one from a socket's 'end' handler)
 * ends one thread: its fetches fail with WORKER_FAULT (retried), their files are removed, another starts.
 *
 * The main thread names each fetch's file (TempDir.newFile, so the replica counts it); the thread writes
 * it, and any further file as `file.1`, ...; a failed fetch has every file of that name removed here.
 * A failure crosses the thread boundary as `{ code, message }` (errors.ts `fromSerialized`).
 */
import { readdir, rename, unlink } from 'node:fs/promises';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { ErrorCode } from '../../contract.js';
import { DownloadTimeoutError, fromSerialized, workerFault } from '../../errors.js';
import { redactUrlsIn } from '../redact.js';
import type { TempDir } from '../temp-dir.js';
import type { FetchedFile, Fetcher, FetchRequest } from './fetcher.js';

const fromSource = import.meta.url.endsWith('.ts');
const threadUrl = new URL(fromSource ? './thread.ts' : './thread.js', import.meta.url);

/** A thread that has not loaded its modules in this long is broken, not slow. */
export const fetchThreadStartTimeoutMs = 30_000;
/** A fetch running this long past its own total time fails with DOWNLOAD_TIMEOUT, and its thread is pinged. */
export const fetchWatchdogGraceMs = 5_000;
/** A pinged thread that does not answer in this long is stuck and is replaced. */
export const fetchThreadPingTimeoutMs = 2_000;
/** Each fetch thread's V8 old generation, in MB: bodies are Buffers outside it; a planner's tables live in it. */
export const fetchThreadHeapMb = 256;

export type FetchThreadData = { allowedHosts: string[]; preload?: string };

export type ToThread =
  | { type: 'fetch'; id: number; request: FetchRequest; file: string }
  /** Answered at once by a thread whose event loop turns. */
  | { type: 'ping'; id: number };

export type FromThread =
  | { type: 'ready' }
  | { type: 'pong'; id: number }
  | { type: 'done'; id: number; ok: true; file: FetchedFile }
  | { type: 'done'; id: number; ok: false; error: { code: ErrorCode; message: string; retryAfterMs?: number } };

/** The n-th file a fetch thread writes for the fetch the main thread named `file`: it, then `file.N`. */
export const fetchFileName = (file: string, n: number): string => (n === 0 ? file : `${file}.${n}`);

/** Whether `candidate` (a path, or a name when `file` is one) is one of the files of the fetch `file`. */
const isFetchFile = (candidate: string, file: string): boolean =>
  candidate === file || (candidate.startsWith(file) && /^\.\d+$/.test(candidate.slice(file.length)));

/**
 * A message for something thrown, at most 500 characters and with no URL's query string. Only an Error's
 * message or a string is read: serialising an unknown value could copy a whole response body.
 */
export function boundedMessage(err: unknown): string {
  const text = err instanceof Error ? `${err.name}: ${err.message}` : typeof err === 'string' ? err : `a thrown ${typeof err}`;
  return redactUrlsIn(text.slice(0, 1000)).slice(0, 500);
}

export interface FetchPoolOptions {
  threads: number;
  /** URL_ALLOWED_HOSTS: hosts a job's URL may name even when they resolve to private addresses. */
  allowedHosts: string[];
  /** A module each thread imports before its first fetch (tests install fault hooks with it). */
  preload?: URL;
  /** Told when a thread dies (crashed, stuck, out of memory), with the fetches it failed (for the log). */
  onThreadStopped?(reason: string, fetchesFailed: number): void;
}

interface Thread {
  worker: Worker;
  ready: Promise<void>;
  pending: Map<number, { resolve(file: FetchedFile): void; reject(err: Error): void }>;
  dead: boolean;
}

/** Under the test runner the sources are TypeScript: the thread registers the same loader (tsx) first. */
function spawnWorker(options: ConstructorParameters<typeof Worker>[1]): Worker {
  if (!fromSource) return new Worker(threadUrl, options);
  const boot = `import('tsx/esm/api').then((api) => { api.register(); return import(${JSON.stringify(threadUrl.href)}); })`;
  return new Worker(boot, { ...options, eval: true });
}

/** Removes every file a failed fetch may have left (untracked by `temp` but for the first). */
async function removeFetchFiles(temp: TempDir, file: string): Promise<void> {
  await temp.remove(file);
  const base = path.basename(file);
  const names = await readdir(path.dirname(file)).catch(() => [] as string[]);
  await Promise.all(names.filter((n) => isFetchFile(n, base) && n !== base).map((n) => unlink(path.join(path.dirname(file), n)).catch(() => {})));
}

export class FetchPool implements Fetcher {
  private readonly threads: Thread[] = [];
  private nextId = 1;
  private closed = false;
  /** Threads that died (crashed, stuck or out of memory) since the pool started. */
  replaced = 0;

  constructor(private readonly options: FetchPoolOptions) {}

  /** Starts every thread before the first jobs; returns the errors of threads that did not start (a later fetch starts another). */
  async warm(): Promise<unknown[]> {
    while (this.threads.length < this.options.threads) this.spawn();
    const started = await Promise.allSettled(this.threads.map((t) => t.ready));
    return started.flatMap((s) => (s.status === 'rejected' ? [s.reason] : []));
  }

  async fetch(request: FetchRequest, temp: TempDir): Promise<FetchedFile> {
    if (this.closed) throw workerFault('the fetch pool is closed');
    const file = temp.newFile();
    try {
      const fetched = await this.send(request, file);
      if (!isFetchFile(fetched.path, file)) throw workerFault('a fetch thread answered with a file it was not given');
      if (fetched.path !== file) await rename(fetched.path, file);
      return { ...fetched, path: file };
    } catch (err) {
      await removeFetchFiles(temp, file);
      throw err;
    }
  }

  /** Stops every thread; fetches in flight fail with WORKER_FAULT. */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.threads.map((t) => t.worker.terminate()));
  }

  private async send(request: FetchRequest, file: string): Promise<FetchedFile> {
    const thread = this.pick();
    await thread.ready;
    if (thread.dead) throw workerFault('the fetch thread stopped before the fetch started');
    const id = this.nextId++;
    let timer: NodeJS.Timeout | undefined;
    try {
      return await new Promise<FetchedFile>((resolve, reject) => {
        thread.pending.set(id, { resolve, reject });
        timer = setTimeout(() => {
          reject(new DownloadTimeoutError(`download exceeded its total time of ${request.limits.timeoutMs} ms`));
          this.checkAlive(thread);
        }, request.limits.timeoutMs + fetchWatchdogGraceMs);
        thread.worker.postMessage({ type: 'fetch', id, request, file } satisfies ToThread);
      });
    } finally {
      clearTimeout(timer);
      thread.pending.delete(id);
    }
  }

  /** The live thread with the fewest fetches in flight; a new one while the pool is not full. */
  private pick(): Thread {
    const live = this.threads.filter((t) => !t.dead);
    if (live.length < this.options.threads) return this.spawn();
    return live.reduce((a, b) => (b.pending.size < a.pending.size ? b : a));
  }

  /** Pings a thread; one that does not answer in time is stuck: it is stopped (and replaced). */
  private checkAlive(thread: Thread): void {
    if (thread.dead) return;
    const id = this.nextId++;
    const timer = setTimeout(() => {
      thread.worker.off('message', onPong);
      this.stop(thread, `did not answer for ${fetchThreadPingTimeoutMs} ms`);
    }, fetchThreadPingTimeoutMs);
    const onPong = (m: FromThread) => {
      if (m.type !== 'pong' || m.id !== id) return;
      clearTimeout(timer);
      thread.worker.off('message', onPong);
    };
    thread.worker.on('message', onPong);
    thread.worker.postMessage({ type: 'ping', id } satisfies ToThread);
  }

  private spawn(): Thread {
    const data: FetchThreadData = { allowedHosts: this.options.allowedHosts, ...(this.options.preload ? { preload: this.options.preload.href } : {}) };
    const worker = spawnWorker({ workerData: data, resourceLimits: { maxOldGenerationSizeMb: fetchThreadHeapMb }, stdout: false, stderr: false });
    worker.unref();
    const thread: Thread = { worker, pending: new Map(), dead: false, ready: Promise.resolve() };
    let wasReady = false;
    thread.ready = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(workerFault(`a fetch thread did not start in ${fetchThreadStartTimeoutMs} ms`)), fetchThreadStartTimeoutMs);
      worker.on('message', (m: FromThread) => {
        if (m.type === 'ready') {
          clearTimeout(timer);
          wasReady = true;
          resolve();
        } else if (m.type === 'done') {
          const pending = thread.pending.get(m.id);
          if (!pending) {
            // A fetch that finished after the watchdog gave up on it: its file is nobody's.
            if (m.ok) unlink(m.file.path).catch(() => {});
            return;
          }
          if (m.ok) pending.resolve(m.file);
          else pending.reject(fromSerialized(m.error));
        }
      });
      // Always listened to: an 'error' with no listener would be thrown on this thread.
      worker.on('error', (err) => {
        clearTimeout(timer);
        reject(workerFault(`a fetch thread failed to start: ${boundedMessage(err)}`));
        this.stop(thread, boundedMessage(err), wasReady);
      });
      worker.on('exit', (code) => {
        clearTimeout(timer);
        reject(workerFault(`a fetch thread exited with code ${code} while starting`));
        this.stop(thread, `exited with code ${code}`, wasReady);
      });
    });
    // Marked as handled: a fetch that awaits it sees the rejection; a thread nobody waits for just dies.
    thread.ready.catch(() => this.stop(thread, 'did not start', false));
    this.threads.push(thread);
    return thread;
  }

  /**
   * A thread is gone (crashed, stuck, out of memory): its fetches fail with a retriable code, and a
   * thread that had been working is replaced at once (one that never started is replaced by the next fetch).
   */
  private stop(thread: Thread, reason: string, replace = true): void {
    if (thread.dead) return;
    thread.dead = true;
    const at = this.threads.indexOf(thread);
    if (at >= 0) this.threads.splice(at, 1);
    void thread.worker.terminate();
    const failed = [...thread.pending.values()];
    for (const pending of failed) pending.reject(workerFault(`the fetch thread stopped: ${reason}`));
    if (this.closed) return;
    this.replaced++;
    this.options.onThreadStopped?.(reason, failed.length);
    if (replace) this.spawn();
  }
}
