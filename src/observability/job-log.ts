/**
 * One log line per job outcome (contract §6), fields to filter on. Error messages are redacted where they
 * are born and bounded again here (a result kept in a job's data is read back); the logger scrubs URLs.
 */
import { boundedMessage } from '../errors.js';
import type { JobOutcome } from '../queue/worker.js';
import type { Logger } from './logger.js';

const ms = (n: number) => Math.round(n * 10) / 10;

export function logJobOutcome(logger: Logger, { jobId, attempt, result, next, saveMs }: JobOutcome): void {
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
    error: result.error && boundedMessage(result.error.message),
    bytes: result.sizeBytes,
    timingsMs: { sign: ms(t.sign), download: ms(t.download), extract: ms(t.extract), save: saveMs === undefined ? undefined : ms(saveMs), total: ms(t.total) },
  };
  // The asset's own failure (corrupt, unsupported): info. An attempt to run again (a store, a sink failing): warn.
  if (next === 'done') logger.info(fields, 'job');
  else logger.warn(fields, 'job');
}
