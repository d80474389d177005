/**
 * The fetch stage behind one interface: a URL → a temp file ready for extraction. Either in this thread
 * (`inProcessFetcher`: tests, benchmarks) or in a pool of fetch threads (`FetchPool`: the worker and the
 * probe command), where no exception of the HTTP client or of a range planner can reach the replica.
 */
import { fetchForExtraction, type FetchedFile } from '../ranged/ranged-read.js';
import type { Downloader, DownloadLimits } from '../download.js';
import type { TempDir } from '../temp-dir.js';

export type { FetchedFile };

export interface FetchRequest {
  /** `signed`: a URL the worker signed itself (trusted); `url`: one that came in a job (every hop SSRF-guarded). */
  source: 'signed' | 'url';
  url: string;
  limits: DownloadLimits;
  /** An object over this many bytes is read by ranges where its format allows; Infinity: read whole. */
  rangedMinBytes: number;
}

export interface Fetcher {
  /** Fetches into a fresh file of `temp` (the caller removes it); rejects with a coded AssetError. */
  fetch(request: FetchRequest, temp: TempDir): Promise<FetchedFile>;
}

/** The two connection pools a fetch needs: trusted (signed URLs) and SSRF-guarded (job URLs). */
export type Downloaders = Record<FetchRequest['source'], Downloader>;

/** Fetches on the calling thread: an exception the HTTP client throws from an event handler ends it. */
export function inProcessFetcher(downloaders: Downloaders): Fetcher {
  return { fetch: (request, temp) => fetchForExtraction(downloaders[request.source], request.url, temp, request.limits, request.rangedMinBytes) };
}
