/**
 * One GET with the manners every download shares, whole or by ranges: redirects followed (http and https
 * only, each hop checked by the guard when there is one), throttling waited out, the stall and total time
 * bounded, transport failures turned into coded errors. Signed URLs (and their redirects: S3 sends 307 to
 * a regional endpoint) are the platform's own and run unguarded; a job's `url` is checked at every hop.
 *
 * Throttling (429, and 503 as S3's SlowDown) says nothing about the object: it is waited out here, a few
 * times within the total time, rather than spend the job's attempts; past that the error carries the wait
 * asked for (`retryAfterMs`) for the queue to delay the job by.
 */
import type { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { errors as undiciErrors, request, type Dispatcher } from 'undici';
import { AccessDeniedError, AssetError, DownloadTimeoutError, NotFoundError, StorageUnavailableError, UrlNotAllowedError, messageOf } from '../errors.js';
import { redactUrl } from './redact.js';
import type { UrlGuard } from './url-guard.js';

export interface DownloadLimits {
  maxBytes: number;
  timeoutMs: number;
  stallTimeoutMs: number;
  /** Objects over this many bytes are read by ranges where the format allows (ranged/); default 16 MiB. */
  rangedReadMinBytes?: number;
}

/** Redirects followed at most per request. */
export const maxRedirects = 5;

const redirectStatuses = new Set([301, 302, 303, 307, 308]);

/** Throttled answers waited out within one download; the next one ends it. */
export const maxThrottleWaits = 4;
/** The longest Retry-After waited out inside a download; a longer one ends it at once (the queue waits). */
export const maxInDownloadWaitMs = 30_000;
/** A Retry-After is untrusted: longer than this is read as this. */
export const maxRetryAfterMs = 60 * 60_000;
/** The wait when the store gives no Retry-After (S3's SlowDown does not): doubled at each wait. */
export const firstThrottleWaitMs = 250;

/** What the requests of one download share: the pool, the guard, the total time and the throttling budget. */
export interface FetchContext {
  dispatcher: Dispatcher;
  guard?: UrlGuard | undefined;
  limits: DownloadLimits;
  /** Aborts at `deadline` (ms since the epoch), the download's total time. */
  signal: AbortSignal;
  deadline: number;
  throttleWaits: number;
}

export function createFetchContext(dispatcher: Dispatcher, guard: UrlGuard | undefined, limits: DownloadLimits): FetchContext {
  return { dispatcher, guard, limits, signal: AbortSignal.timeout(limits.timeoutMs), deadline: Date.now() + limits.timeoutMs, throttleWaits: 0 };
}

/** GETs `url` with `headers` (a Range, an If-Match): the first answer neither a redirect nor throttling, and its URL. */
export async function get(ctx: FetchContext, url: URL, headers: Record<string, string> = {}): Promise<{ res: Dispatcher.ResponseData; url: URL }> {
  let current = url;
  let hops = 0;
  for (;;) {
    if (current.protocol !== 'http:' && current.protocol !== 'https:') {
      throw new UrlNotAllowedError(`redirect to scheme ${current.protocol} refused (http and https only) from ${redactUrl(url.href)}`);
    }
    if (ctx.guard) await ctx.guard.check(current);
    const stall = ctx.limits.stallTimeoutMs;
    const options = { dispatcher: ctx.dispatcher, method: 'GET' as const, headers, signal: ctx.signal, headersTimeout: stall, bodyTimeout: stall };
    const res = await request(current, options).catch((err: unknown) => {
      throw transportError(err, current, ctx.signal);
    });
    const location = res.headers.location;
    if (redirectStatuses.has(res.statusCode) && typeof location === 'string') {
      discard(res.body);
      // A chain this long is a loop or a trap, and asking again follows the same chain: permanent.
      if (hops >= maxRedirects) throw new UrlNotAllowedError(`more than ${maxRedirects} redirects from ${redactUrl(url.href)}`);
      hops++;
      current = URL.parse(location, current) ?? fail(new StorageUnavailableError(`redirect with an unreadable Location from ${redactUrl(url.href)}`));
      continue;
    }
    if (res.statusCode === 429 || res.statusCode === 503) {
      discard(res.body);
      const wait = throttleWait(ctx, res.statusCode, res.headers['retry-after'], current);
      await sleep(wait, undefined, { signal: ctx.signal }).catch((err: unknown) => {
        throw transportError(err, current, ctx.signal);
      });
      // Ask the URL we were given again: a redirect's target may be as short-lived as a signed URL.
      current = url;
      hops = 0;
      continue;
    }
    return { res, url: current };
  }
}

/**
 * How long to wait out a throttled answer; throws STORAGE_UNAVAILABLE with `retryAfterMs` when the
 * download should not wait (its waits are spent, or the store asks for too long or past the total time).
 */
function throttleWait(ctx: FetchContext, status: number, retryAfter: unknown, url: URL): number {
  const wait = parseRetryAfter(retryAfter) ?? firstThrottleWaitMs * 2 ** ctx.throttleWaits;
  const why =
    ctx.throttleWaits >= maxThrottleWaits ? `after ${ctx.throttleWaits} waits`
    : wait > maxInDownloadWaitMs ? `asked to wait ${Math.ceil(wait / 1000)} s, over the ${maxInDownloadWaitMs / 1000} s a download waits`
    : wait >= ctx.deadline - Date.now() ? `asked to wait ${Math.ceil(wait / 1000)} s, past the download's total time`
    : undefined;
  if (why) {
    const message = `storage throttled the download (HTTP ${status}, ${why}) at ${redactUrl(url.href)}`;
    throw Object.assign(new StorageUnavailableError(message), { retryAfterMs: wait });
  }
  ctx.throttleWaits++;
  return wait;
}

/** Milliseconds a Retry-After asks for, at most maxRetryAfterMs; undefined when absent or not RFC 9110's. */
export function parseRetryAfter(value: unknown, now = Date.now()): number | undefined {
  if (typeof value !== 'string') return undefined;
  const text = value.trim();
  if (/^\d{1,10}$/.test(text)) return Math.min(Number(text) * 1000, maxRetryAfterMs);
  if (text.length > 64) return undefined;
  const at = Date.parse(text);
  if (!Number.isFinite(at) || !/[a-z]{3}/i.test(text)) return undefined;
  return Math.min(Math.max(0, at - now), maxRetryAfterMs);
}

/** A URL to fetch; one that does not parse is refused for good (asking again parses the same text). */
export const parseUrl = (url: string): URL => URL.parse(url) ?? fail(new UrlNotAllowedError('the URL does not parse'));

function fail(err: Error): never {
  throw err;
}

/** Drops a response body we will not read; its abort must not surface as an unhandled error. */
export function discard(body: Readable): void {
  body.on('error', () => {});
  body.destroy();
}

export function statusError(status: number, url: URL): AssetError {
  const where = redactUrl(url.href);
  if (status === 404 || status === 410) return new NotFoundError(`object not found (HTTP ${status}) at ${where}`);
  if (status === 403) return new AccessDeniedError(`access denied (HTTP 403) at ${where}`);
  if (status === 429 || status >= 500) return new StorageUnavailableError(`storage answered HTTP ${status} at ${where}`);
  // A success that is not the one asked for (206 to a GET without Range): a broken server or proxy, maybe for a moment.
  if (status >= 200 && status < 300) return new StorageUnavailableError(`storage answered HTTP ${status}, not 200, at ${where}`);
  // 400, 401 and the rest: the store refuses this request as made; asking again will not change that.
  return new AccessDeniedError(`storage refused the request (HTTP ${status}) at ${where}`);
}

export function transportError(err: unknown, url: URL, signal: AbortSignal): AssetError {
  if (err instanceof AssetError) return err;
  // The guard's refusal arrives wrapped by the connection attempt.
  const cause = (err as { cause?: unknown })?.cause;
  if (cause instanceof UrlNotAllowedError) return cause;
  const where = redactUrl(url.href);
  if (signal.aborted) return new DownloadTimeoutError(`download exceeded its total time at ${where}`, { cause: err });
  if (err instanceof undiciErrors.HeadersTimeoutError || err instanceof undiciErrors.BodyTimeoutError) {
    return new DownloadTimeoutError(`download stalled at ${where}`, { cause: err });
  }
  const code = (err as NodeJS.ErrnoException)?.code;
  if (code === 'ENOSPC' || code === 'EDQUOT') {
    // Our disk, not the object: retriable (space frees as other jobs end), never a corrupt result.
    return new StorageUnavailableError(`temp disk full while downloading ${where}`, { cause: err });
  }
  return new StorageUnavailableError(`download failed at ${where}: ${messageOf(err).slice(0, 200)}`, { cause: err });
}
