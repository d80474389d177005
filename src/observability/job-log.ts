/**
 * One log line per job outcome (docs/contract.md §6): what an operator greps for when a backend asks "what
 * happened to asset X". Fields, not prose, so that log queries can filter on them. The logger scrubs URL
 * query strings from every value (logger.ts); error messages are already redacted where they are born,
 * and bounded (errors.ts maxErrorMessageBytes).
 */
import { boundedMessage } from '../errors.js';
import type { JobOutcome } from '../queue/worker.js';
import type { Logger } from './logger.js';

const ms = (n: number) => Math.round(n * 10) / 10;

/** `saveMs`: how long the sinks took to save this result, when they did. */
export function logJobOutcome(logger: Logger, outcome: JobOutcome, saveMs?: number): void {
  const { jobId, attempt, result, next } = outcome;
  const t = result.timingsMs;
  const fields = {
    jobId,
    assetId: result.assetId,
    attempt,
    next,
    status: result.status,
    dataType: result.dataType,
    mimeType: result.mimeType,
    code: result.error?.code,
    retriable: result.error?.retriable,
    // Bounded again here: a result kept in a job's data from an earlier attempt is logged as read back.
    error: result.error && boundedMessage(result.error.message),
    bytes: result.sizeBytes,
    timingsMs: {
      sign: ms(t.sign),
      download: ms(t.download),
      extract: ms(t.extract),
      ...(saveMs !== undefined ? { save: ms(saveMs) } : {}),
      total: ms(t.total),
    },
  };
  // A failed asset (corrupt, unsupported) is the asset's business, not the operator's: info. An attempt
  // that will run again means something the operator runs is failing: warn.
  if (next === 'done') logger.info(fields, 'job');
  else logger.warn(fields, 'job');
}
