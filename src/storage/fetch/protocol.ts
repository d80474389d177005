/**
 * Messages between the replica's main thread and its fetch threads. Classes do not cross a thread
 * boundary: a failure travels as `{ code, message }` and is rebuilt with errors.ts `fromSerialized`.
 */
import type { ErrorCode } from '../../contract.js';
import { redactUrlsIn } from '../redact.js';
import type { FetchedFile, FetchRequest } from './fetcher.js';

/** Longest error message that crosses from a fetch thread, in characters (results store it). */
export const maxErrorMessageChars = 500;

export interface FetchThreadData {
  allowedHosts: string[];
  /** A module the thread imports before its first fetch (tests install fault hooks with it). */
  preload?: string;
}

export type ToThread =
  /** Fetch into the fresh file `file` (and `file.N` for any further file the fetch needs: pool.ts). */
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
export const isFetchFile = (candidate: string, file: string): boolean =>
  candidate === file || (candidate.startsWith(file) && /^\.\d+$/.test(candidate.slice(file.length)));

/**
 * A message for something thrown, never longer than `maxErrorMessageChars` and with no URL's query
 * string. Only an Error's message or a string is used: serialising an unknown value could copy a whole
 * response body (or allocate more than the thread's heap).
 */
export function boundedMessage(err: unknown): string {
  const text = err instanceof Error ? `${err.name}: ${err.message}` : typeof err === 'string' ? err : `a thrown ${typeof err}`;
  return redactUrlsIn(text.slice(0, maxErrorMessageChars * 2)).slice(0, maxErrorMessageChars);
}
