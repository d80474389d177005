/**
 * One GET with the manners every download shares, whole or by ranges: redirects followed (at most
 * maxRedirects hops, each hop's URL checked by the guard when there is one), throttling waited out
 * (throttle.ts), the stall and total time bounded, and transport failures turned into coded errors.
 *
 * What is trusted. A URL the worker signed itself (storage sources) points at an endpoint the operator
 * configured, or one the backend's signer answered with over an authenticated call: both are the
 * platform's own, and so is a redirect they send (S3 sends 301/307 to a bucket's regional endpoint; a
 * signer may answer with a CDN URL that redirects to its origin). Those downloads run without the SSRF
 * guard. A `url` source comes in a job and is not trusted: its downloader carries a guard, and every hop
 * of every request (each range of a ranged read too) is checked before connecting, and its connections
 * resolve names through the guard's lookup. Whatever the trust, a hop goes to http or https only and a
 * chain longer than maxRedirects is refused.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { errors as undiciErrors, request, type Dispatcher } from 'undici';
import {
  AccessDeniedError,
  AssetError,
  DownloadTimeoutError,
  NotFoundError,
  StorageUnavailableError,
  UrlNotAllowedError,
  messageOf,
} from '../errors.js';
import { redactUrl } from './redact.js';
import { Throttle } from './throttle.js';
import type { UrlGuard } from './url-guard.js';

export interface DownloadLimits {
  maxBytes: number;
  timeoutMs: number;
  stallTimeoutMs: number;
  /** Objects over this many bytes are read by ranges where the format allows (ranged/); default 16 MiB. */
  rangedReadMinBytes?: number;
}

/** Redirects followed at most per request; each hop is checked by the guard again, when there is one. */
export const maxRedirects = 5;

const redirectStatuses = new Set([301, 302, 303, 307, 308]);

/** What the requests of one download share: the pool, the guard, the total time and the throttling budget. */
export interface FetchContext {
  dispatcher: Dispatcher;
  guard?: UrlGuard | undefined;
  limits: DownloadLimits;
  /** Aborts at the download's total time. */
  signal: AbortSignal;
  /** When the total time ends (ms since the epoch). */
  deadline: number;
  throttle: Throttle;
}

export function createFetchContext(dispatcher: Dispatcher, guard: UrlGuard | undefined, limits: DownloadLimits): FetchContext {
  return {
    dispatcher,
    guard,
    limits,
    signal: AbortSignal.timeout(limits.timeoutMs),
    deadline: Date.now() + limits.timeoutMs,
    throttle: new Throttle(),
  };
}

/** A response that is not a redirect or a throttling answer, and the URL (after redirects) that gave it. */
export interface Reply {
  res: Dispatcher.ResponseData;
  url: URL;
}

/** GETs `url` with `headers` (a Range, an If-Match), following redirects and waiting out throttling. */
export async function get(ctx: FetchContext, url: URL, headers: Record<string, string> = {}): Promise<Reply> {
  let current = url;
  let hops = 0;
  for (;;) {
    if (current.protocol !== 'http:' && current.protocol !== 'https:') {
      throw new UrlNotAllowedError(`redirect to scheme ${current.protocol} refused (http and https only) from ${redactUrl(url.href)}`);
    }
    if (ctx.guard) await ctx.guard.check(current);
    const res = await send(ctx, current, headers);
    const location = res.headers.location;
    if (redirectStatuses.has(res.statusCode) && typeof location === 'string') {
      discard(res.body);
      // A chain this long is a loop or a trap, and asking again follows the same chain: permanent.
      if (hops >= maxRedirects) throw new UrlNotAllowedError(`more than ${maxRedirects} redirects from ${redactUrl(url.href)}`);
      hops++;
      current = parseLocation(location, current, url);
      continue;
    }
    if (res.statusCode === 429 || res.statusCode === 503) {
      discard(res.body);
      const wait = ctx.throttle.next(res.statusCode, res.headers['retry-after'], ctx.deadline - Date.now(), redactUrl(current.href));
      if (typeof wait !== 'number') throw wait;
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

/** A URL to fetch; one that does not parse is refused for good (asking again parses the same text). */
export function parseUrl(url: string): URL {
  try {
    return new URL(url);
  } catch {
    throw new UrlNotAllowedError('the URL does not parse');
  }
}

function parseLocation(location: string, base: URL, origin: URL): URL {
  try {
    return new URL(location, base);
  } catch {
    throw new StorageUnavailableError(`redirect with an unreadable Location from ${redactUrl(origin.href)}`);
  }
}

async function send(ctx: FetchContext, url: URL, headers: Record<string, string>): Promise<Dispatcher.ResponseData> {
  try {
    return await request(url, {
      dispatcher: ctx.dispatcher,
      method: 'GET',
      headers,
      signal: ctx.signal,
      headersTimeout: ctx.limits.stallTimeoutMs,
      bodyTimeout: ctx.limits.stallTimeoutMs,
    });
  } catch (err) {
    throw transportError(err, url, ctx.signal);
  }
}

/** Drops a response body we will not read; its abort must not surface as an unhandled error. */
export function discard(body: Dispatcher.ResponseData['body']): void {
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
