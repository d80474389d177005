/**
 * Runs extraction in a pool of worker threads with a V8 heap limit, and kills a thread that runs over
 * EXTRACT_TIMEOUT_MS (EXTRACT_TIMEOUT) or dies (CORRUPT_ASSET): the replica goes on with a fresh thread.
 */
import { Worker } from 'node:worker_threads';
import type { ErrorCode } from '../contract.js';
import type { ExtractConfig } from '../config.js';
import { CorruptAssetError, ExtractTimeoutError, fromSerialized } from '../errors.js';
import type { Extracted } from './extractor.js';
import type { ThreadReply, ThreadRequest } from './thread.js';

const fromSource = import.meta.url.endsWith('.ts');
const threadUrl = new URL(fromSource ? './thread.ts' : './thread.js', import.meta.url);

/** Under the test runner the sources are TypeScript: the thread registers the same loader (tsx) first. */
function spawnThread(options: ConstructorParameters<typeof Worker>[1]): Worker {
  if (!fromSource) return new Worker(threadUrl, options);
  const boot = `import('tsx/esm/api').then((api) => { api.register(); return import(${JSON.stringify(threadUrl.href)}); })`;
  return new Worker(boot, { ...options, eval: true });
}

interface Slot {
  worker: Worker;
  busy: boolean;
}

export class ExtractPool {
  private readonly idle: Slot[] = [];
  private readonly waiting: ((slot: Slot) => void)[] = [];
  private live = 0;
  private nextId = 1;
  private closed = false;

  constructor(
    private readonly size: number,
    private readonly maxHeapMb: number,
  ) {}

  async run(path: string, config: ExtractConfig): Promise<Extracted> {
    if (this.closed) throw new Error('extraction pool is closed');
    const slot = await this.acquire();
    const id = this.nextId++;
    return new Promise<Extracted>((resolve, reject) => {
      let settled = false;
      const finish = (keep: boolean, fn: () => void) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        slot.worker.off('message', onMessage);
        slot.worker.off('error', onError);
        slot.worker.off('exit', onExit);
        if (keep) this.release(slot);
        else this.discard(slot);
        fn();
      };
      const onMessage = (reply: ThreadReply) => {
        if (reply.id !== id) return;
        if (reply.ok) finish(true, () => resolve(reply.value));
        else finish(true, () => reject(fromSerialized({ code: reply.error.code as ErrorCode, message: reply.error.message })));
      };
      const onError = (err: Error) => {
        const oom = (err as NodeJS.ErrnoException).code === 'ERR_WORKER_OUT_OF_MEMORY';
        const message = oom ? `extractor ran out of its ${this.maxHeapMb} MB heap` : `extractor crashed: ${err.message}`;
        finish(false, () => reject(new CorruptAssetError(message)));
      };
      const onExit = (code: number) => finish(false, () => reject(new CorruptAssetError(`extractor exited with code ${code}`)));
      const timer = setTimeout(() => {
        finish(false, () => reject(new ExtractTimeoutError(`extraction exceeded ${config.timeoutMs} ms and was stopped`)));
      }, config.timeoutMs);
      slot.worker.on('message', onMessage);
      slot.worker.on('error', onError);
      slot.worker.on('exit', onExit);
      slot.worker.postMessage({ id, path, config } satisfies ThreadRequest);
    });
  }

  /** Stops every thread; runs in flight fail. */
  async close(): Promise<void> {
    this.closed = true;
    const all = this.idle.splice(0);
    await Promise.all(all.map((s) => s.worker.terminate()));
  }

  private acquire(): Promise<Slot> {
    const slot = this.idle.pop();
    if (slot) {
      slot.busy = true;
      return Promise.resolve(slot);
    }
    if (this.live < this.size) {
      this.live++;
      const worker = spawnThread({
        resourceLimits: { maxOldGenerationSizeMb: this.maxHeapMb, maxYoungGenerationSizeMb: Math.min(64, this.maxHeapMb / 4) },
        stdout: false,
        stderr: false,
      });
      worker.unref();
      return Promise.resolve({ worker, busy: true });
    }
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  private release(slot: Slot): void {
    const next = this.waiting.shift();
    if (next) return next(slot);
    slot.busy = false;
    if (this.closed) void slot.worker.terminate();
    else this.idle.push(slot);
  }

  private discard(slot: Slot): void {
    void slot.worker.terminate();
    this.live--;
    const next = this.waiting.shift();
    if (next) {
      // A waiter takes the place of the thread that was killed.
      void this.acquire().then(next);
    }
  }
}
