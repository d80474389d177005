/**
 * The `save` stage's clock: one sink in front of the configured ones that saves to all of them (as the
 * queue layer would) and reports how long that took, for the stage histogram and the job's log line.
 */
import type { AssetResult } from '../contract.js';
import { saveAll, type ResultSink } from '../sinks/sink.js';

export interface TimedSave {
  /** Hand this to the queue worker instead of the sinks themselves. */
  sink: ResultSink;
  /** How long saving this very result took (looked up by identity: the worker passes the same object on). */
  msFor(result: AssetResult): number | undefined;
}

export function timeSaves(sinks: ResultSink[], observe: (ms: number) => void): TimedSave {
  const took = new WeakMap<AssetResult, number>();
  return {
    msFor: (result) => took.get(result),
    sink: {
      name: sinks.map((s) => s.name).join('+'),
      init: async () => {
        await Promise.all(sinks.map((s) => s.init()));
      },
      async save(result, ctx) {
        const t0 = performance.now();
        try {
          await saveAll(sinks, result, ctx);
        } finally {
          const ms = performance.now() - t0;
          took.set(result, ms);
          observe(ms);
        }
      },
      close: async () => {
        await Promise.all(sinks.map((s) => s.close()));
      },
    },
  };
}
