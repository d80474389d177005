/**
 * Runs extraction in a pool of worker threads with a V8 heap limit, and kills a thread that runs over
 * EXTRACT_TIMEOUT_MS (EXTRACT_TIMEOUT) or out of its heap (CORRUPT_ASSET); the replica goes on with a fresh
 * one. A thread's unexpected error fails its job as WORKER_FAULT and retires the thread. A job's time starts
 * when its thread is ready, so a replacement's start-up is not charged to the next job.
 */
import { unlink } from 'node:fs/promises';
import type { Worker } from 'node:worker_threads';
import type { ExtractConfig } from '../../config.js';
import { CorruptAssetError, ExtractTimeoutError, fromSerialized, messageOf, workerFault, type AssetError } from '../../errors.js';
import type { Probed } from '../extract-file.js';
import type { Extracted } from '../extractor.js';
import { spawnThread } from './spawn-thread.js';
import type { ThreadFault, ThreadReply, ThreadRequest, ThreadWarm } from './thread.js';

/**
 * Each extraction thread's V8 young generation, in MB: a large nursery is RSS the thread keeps (peak RSS at
 * concurrency 16: 64 MB 326, 16 MB 296, 12 MB 274; 8 MB cost more CPU in scavenges).
 */
const youngGenerationMb = 12;

/** A thread that has not loaded its modules in this long is broken, not slow. */
export const threadStartTimeoutMs = 60_000;

const isFault = (m: unknown): m is ThreadFault => typeof m === 'object' && m !== null && 'fault' in m;

interface Slot {
  worker: Worker;
  /** Resolves when the thread has loaded its modules; rejects if it dies or hangs first. */
  ready: Promise<unknown>;
  /** Set once the thread has exited or been terminated: never handed out again. */
  dead: boolean;
  /** Set when the thread reported a fault between jobs: retired as soon as it is not running a job. */
  faulted: boolean;
}

export interface ExtractPoolOptions {
  /** Node flags for the threads (default: this process's own; the benchmark passes [] for compiled threads). */
  execArgv?: string[];
  /** Reports a thread's unexpected error while it ran no job (it is retired); default: a process warning. */
  onThreadFault?(message: string): void;
}

const warnThreadFault = (message: string) => process.emitWarning(message, { type: 'ExtractionThreadFault' });

export class ExtractPool {
  private readonly idle: Slot[] = [];
  private readonly waiting: ((slot: Slot) => void)[] = [];
  private live = 0;
  private nextId = 1;
  private closed = false;

  constructor(
    private readonly size: number,
    private readonly maxHeapMb: number,
    private readonly options: ExtractPoolOptions = {},
  ) {}

  /** Detects and extracts one local file in a thread (rejects with the asset's coded error); `remove`: the file is gone when this settles. */
  async run(path: string, config: ExtractConfig, remove = false): Promise<Extracted> {
    const { extracted, error, kept }: Probed & { kept?: boolean } = await this.send({ path, config, remove }).catch((err: unknown) => ({ error: err, kept: remove }));
    if (kept) await unlink(path).catch(() => {});
    if (!extracted) throw error;
    return extracted;
  }

  /** Size, sha256 and metadata of a local file, hashed inside the thread; never rejects (`error` instead). */
  probe(path: string, config: ExtractConfig): Promise<Probed> {
    return this.send({ path, config, hash: true }).catch((error: unknown) => ({ error }));
  }

  private async send(job: Omit<ThreadRequest, 'id'>): Promise<Probed & { kept?: boolean }> {
    if (this.closed) throw new Error('extraction pool is closed');
    const slot = await this.acquire();
    try {
      await slot.ready;
      const { timeoutMs } = job.config;
      const timedOut = () => new ExtractTimeoutError(`extraction exceeded ${timeoutMs} ms and was stopped`);
      const reply = await this.exchange<ThreadReply | ThreadFault>(slot, { id: this.nextId++, ...job }, timeoutMs, timedOut, (code) => workerFault(`extraction thread exited with code ${code}`));
      if (isFault(reply)) throw workerFault(reply.message);
      this.release(slot);
      return { file: reply.file, kept: reply.kept, ...(reply.ok ? { extracted: reply.value } : { error: fromSerialized(reply.error) }) };
    } catch (err) {
      this.discard(slot);
      throw err;
    }
  }

  /**
   * Starts every thread of the pool and has each load every extractor's modules, so that the first jobs
   * run at full speed. A thread that fails (out of its heap while loading pdf.js, say) is dropped, and a
   * job later starts a fresh one that loads only what it needs; the errors are returned to be logged.
   */
  async warm(timeoutMs = threadStartTimeoutMs): Promise<unknown[]> {
    const slots: Slot[] = [];
    while (this.live < this.size && !this.closed) slots.push(this.spawn());
    const errors: unknown[] = [];
    await Promise.all(
      slots.map(async (slot) => {
        try {
          await slot.ready;
          const timedOut = () => new CorruptAssetError(`extraction thread did not load in ${timeoutMs} ms`);
          const exited = (code: number) => new CorruptAssetError(`extraction thread exited with code ${code} while loading`);
          const m = await this.exchange<{ warmed: boolean; message?: string }>(slot, { id: this.nextId++, warm: true }, timeoutMs, timedOut, exited);
          if (!m.warmed) throw new CorruptAssetError(`extraction thread could not load its extractors: ${m.message ?? 'unknown error'}`);
          this.release(slot);
        } catch (err) {
          errors.push(err);
          this.discard(slot);
        }
      }),
    );
    return errors;
  }

  /** Posts one request and settles on the thread's reply to it, its death or the timeout. */
  private exchange<T>(slot: Slot, request: ThreadRequest | ThreadWarm, timeoutMs: number, timedOut: () => Error, exited: (code: number) => Error): Promise<T> {
    const reply = this.awaitMessage<T>(slot.worker, (m) => m.id === request.id, timeoutMs, timedOut, exited);
    slot.worker.postMessage(request);
    return reply;
  }

  /** Settles on the first message `accept` takes, the thread's death (a crash or an exit) or the timeout. */
  private awaitMessage<T>(worker: Worker, accept: (m: { id?: number; ready?: true }) => boolean, timeoutMs: number, timedOut: () => Error, exited: (code: number) => Error): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const done = (fn: () => void) => {
        clearTimeout(timer);
        worker.off('message', onMessage);
        worker.off('error', onError);
        worker.off('exit', onExit);
        fn();
      };
      const onMessage = (m: T & { id?: number }) => accept(m) && done(() => resolve(m));
      const onError = (err: Error) => done(() => reject(this.threadError(err)));
      const onExit = (code: number) => done(() => reject(exited(code)));
      const timer = setTimeout(() => done(() => reject(timedOut())), timeoutMs);
      worker.on('message', onMessage);
      worker.on('error', onError);
      worker.on('exit', onExit);
    });
  }

  /** Stops every thread; runs in flight fail. */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.idle.splice(0).map((s) => s.worker.terminate()));
  }

  /** The parser's heap exhausted is the asset's doing (CORRUPT_ASSET); any other death is a fault. */
  private threadError(err: Error): AssetError {
    const oom = (err as NodeJS.ErrnoException).code === 'ERR_WORKER_OUT_OF_MEMORY';
    return oom ? new CorruptAssetError(`extractor ran out of its ${this.maxHeapMb} MB heap`) : workerFault(`extraction thread crashed: ${messageOf(err)}`);
  }

  /** A fault the thread reported while it ran no job: reported once, and the thread retired. */
  private idleFault(slot: Slot, message: string): void {
    if (slot.faulted || slot.dead) return;
    slot.faulted = true;
    (this.options.onThreadFault ?? warnThreadFault)(`extraction thread fault between jobs; the thread is replaced: ${messageOf(message)}`);
    if (this.leaveIdle(slot)) this.discard(slot);
  }

  private spawn(): Slot {
    this.live++;
    const worker = spawnThread({
      ...(this.options.execArgv ? { execArgv: this.options.execArgv } : {}),
      resourceLimits: { maxOldGenerationSizeMb: this.maxHeapMb, maxYoungGenerationSizeMb: Math.min(youngGenerationMb, this.maxHeapMb / 4) },
      stdout: false,
      stderr: false,
    });
    worker.unref();
    const timedOut = () => new CorruptAssetError(`extraction thread did not start in ${threadStartTimeoutMs} ms`);
    const exited = (code: number) => new CorruptAssetError(`extraction thread exited with code ${code} while starting`);
    const ready = this.awaitMessage(worker, (m) => m.ready === true, threadStartTimeoutMs, timedOut, exited);
    const slot: Slot = { worker, ready, dead: false, faulted: false };
    // Handled: a run that awaits it sees the rejection. 'error' is always listened to (unlistened, it would
    // be thrown in this process); a thread that dies between jobs leaves the idle list and the pool.
    ready.catch(() => {});
    worker.on('error', () => {});
    worker.on('message', (m: unknown) => {
      if (isFault(m) && m.id === undefined) this.idleFault(slot, m.message);
    });
    worker.on('exit', () => {
      if (slot.dead) return;
      slot.dead = true;
      if (this.leaveIdle(slot)) this.live--;
    });
    return slot;
  }

  /** Takes `slot` off the idle list; false when it was not there (a job holds it). */
  private leaveIdle(slot: Slot): boolean {
    const at = this.idle.indexOf(slot);
    if (at >= 0) this.idle.splice(at, 1);
    return at >= 0;
  }

  private acquire(): Promise<Slot> {
    let slot = this.idle.pop();
    while (slot?.dead) slot = this.idle.pop();
    if (slot) return Promise.resolve(slot);
    if (this.live < this.size) return Promise.resolve(this.spawn());
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  private release(slot: Slot): void {
    if (slot.dead) return this.replace();
    if (slot.faulted) return this.discard(slot);
    const next = this.waiting.shift();
    if (next) return next(slot);
    if (this.closed) void slot.worker.terminate();
    else this.idle.push(slot);
  }

  private discard(slot: Slot): void {
    if (!slot.dead) {
      slot.dead = true;
      void slot.worker.terminate();
    }
    this.replace();
  }

  /** A slot's thread is gone: its place goes to a waiter, on a fresh thread. */
  private replace(): void {
    this.live--;
    const next = this.waiting.shift();
    if (next) void this.acquire().then(next);
  }
}
