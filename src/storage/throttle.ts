/**
 * Throttling (HTTP 429, and 503 as S3's SlowDown): the store asks us to come back later, usually with
 * Retry-After (RFC 9110 §10.2.3: seconds, or an HTTP date). Throttling says nothing about the object, so it
 * is waited out inside the download, a bounded number of times within the download's total time, instead
 * of spending the job's attempts (which are for objects and networks that fail). When the waits are used
 * up, or the store asks for longer than a download waits, the error says the download was throttled and
 * carries how long the store asked for (`retryAfterMs`), for the queue to delay the job by.
 */
import { StorageUnavailableError } from '../errors.js';

/** Throttled answers waited out within one download; the next one ends it. */
export const maxThrottleWaits = 4;
/** The longest Retry-After waited out inside a download; a longer one ends it at once (the queue waits). */
export const maxInDownloadWaitMs = 30_000;
/** A Retry-After is untrusted: longer than this is read as this. */
export const maxRetryAfterMs = 60 * 60_000;
/** The wait when the store gives no Retry-After (S3's SlowDown does not): doubled at each wait. */
export const firstThrottleWaitMs = 250;

/** STORAGE_UNAVAILABLE (retriable) from throttling; `retryAfterMs` is what the store asked for, bounded. */
export class StorageThrottledError extends StorageUnavailableError {
  constructor(message: string, retryAfterMs: number) {
    super(message);
    this.retryAfterMs = retryAfterMs;
  }
}

/**
 * Milliseconds a Retry-After value asks for, bounded by maxRetryAfterMs; undefined when absent or not
 * one of RFC 9110's two forms.
 */
export function parseRetryAfter(value: unknown, now = Date.now()): number | undefined {
  if (typeof value !== 'string') return undefined;
  const text = value.trim();
  if (/^\d{1,10}$/.test(text)) return Math.min(Number(text) * 1000, maxRetryAfterMs);
  if (text.length > 64) return undefined;
  const at = Date.parse(text);
  if (!Number.isFinite(at) || !/[a-z]{3}/i.test(text)) return undefined;
  return Math.min(Math.max(0, at - now), maxRetryAfterMs);
}

/** The throttling budget of one download, shared by all of its requests. */
export class Throttle {
  private waits = 0;

  /**
   * How long to wait before asking again, or a StorageThrottledError to throw when this download should
   * not wait (its waits are spent, the store asks for too long, or the wait would outlast `remainingMs`).
   */
  next(status: number, retryAfter: unknown, remainingMs: number, where: string): number | StorageThrottledError {
    const asked = parseRetryAfter(retryAfter);
    const wait = asked ?? firstThrottleWaitMs * 2 ** this.waits;
    const why =
      this.waits >= maxThrottleWaits ? `after ${this.waits} waits`
      : wait > maxInDownloadWaitMs ? `asked to wait ${Math.ceil(wait / 1000)} s, over the ${maxInDownloadWaitMs / 1000} s a download waits`
      : wait >= remainingMs ? `asked to wait ${Math.ceil(wait / 1000)} s, past the download's total time`
      : undefined;
    if (why) return new StorageThrottledError(`storage throttled the download (HTTP ${status}, ${why}) at ${where}`, wait);
    this.waits++;
    return wait;
  }
}
