/**
 * One catalogue of coded errors (docs/contract.md §4), each class knowing whether it is retriable. Across a
 * thread or process boundary classes are lost: `fromSerialized` rebuilds them from `code`.
 *
 * Messages are saved in results, job logs and Redis: each is bounded (`maxErrorMessageBytes`) where it is
 * made, and text is taken from a thrown value only where a message is known to be (`messageOf`), never by
 * serialising the value: dicom-parser throws `{ exception, dataSet }`, whose data set holds every byte read,
 * patient identifiers included.
 */
import type { DataType, ErrorCode } from './contract.js';

/** What detection had found when a later stage failed: a failed result still says what the bytes are. */
export interface DetectedType {
  dataType: DataType;
  mimeType: string;
}

export abstract class AssetError extends Error {
  abstract readonly code: ErrorCode;
  abstract readonly retriable: boolean;
  detected?: DetectedType;
  /** How long the service asked us to wait before trying again (a store's Retry-After), when it said. */
  retryAfterMs?: number;

  constructor(message: string, options?: ErrorOptions) {
    super(boundedMessage(message), options);
  }

  toJSON(): { code: ErrorCode; message: string; retriable: boolean; retryAfterMs?: number } {
    // Bounded again: a message can be rewritten after construction (URL redaction does).
    return {
      code: this.code,
      message: boundedMessage(this.message),
      retriable: this.retriable,
      ...(this.retryAfterMs !== undefined ? { retryAfterMs: this.retryAfterMs } : {}),
    };
  }
}

function define<C extends ErrorCode>(code: C, retriable: boolean) {
  return class extends AssetError {
    static readonly code = code;
    readonly code = code;
    readonly retriable = retriable;
    override readonly name: string = code;
  };
}

export class InvalidJobError extends define('INVALID_JOB', false) {}
export class StorageNotConfiguredError extends define('STORAGE_NOT_CONFIGURED', false) {}
export class UrlNotAllowedError extends define('URL_NOT_ALLOWED', false) {}
export class NotFoundError extends define('NOT_FOUND', false) {}
export class AccessDeniedError extends define('ACCESS_DENIED', false) {}
export class StorageUnavailableError extends define('STORAGE_UNAVAILABLE', true) {}
export class DownloadTimeoutError extends define('DOWNLOAD_TIMEOUT', true) {}
export class ResultSinkUnavailableError extends define('RESULT_SINK_UNAVAILABLE', true) {}
export class TooLargeError extends define('TOO_LARGE', false) {}
export class UnsupportedTypeError extends define('UNSUPPORTED_TYPE', false) {}
export class CorruptAssetError extends define('CORRUPT_ASSET', false) {}
export class EncryptedAssetError extends define('ENCRYPTED_ASSET', false) {}
export class ExtractTimeoutError extends define('EXTRACT_TIMEOUT', false) {}
/** The replica cannot do the work (a tool missing, a thread crashed): no verdict on the asset, retried. */
export class WorkerFaultError extends define('WORKER_FAULT', true) {}

/** Each code's own class, not define's base: `instanceof NotFoundError` holds after a thread hop. */
const classes = [InvalidJobError, StorageNotConfiguredError, UrlNotAllowedError, NotFoundError, AccessDeniedError, StorageUnavailableError,
  DownloadTimeoutError, ResultSinkUnavailableError, TooLargeError, UnsupportedTypeError, CorruptAssetError, EncryptedAssetError,
  ExtractTimeoutError, WorkerFaultError];
const byCode = new Map<ErrorCode, new (message: string) => AssetError>(classes.map((Cls) => [Cls.code, Cls]));

export function isAssetError(err: unknown): err is AssetError {
  return err instanceof AssetError;
}

/** Rebuilds a coded error that crossed a thread/process boundary as `{ code, message }`. */
export function fromSerialized(value: { code: ErrorCode; message: string; detected?: DetectedType; retryAfterMs?: number }): AssetError {
  const err = new (byCode.get(value.code)!)(value.message);
  if (value.detected) err.detected = value.detected;
  if (value.retryAfterMs !== undefined) err.retryAfterMs = value.retryAfterMs;
  return err;
}

/** A fault of the worker, not of the asset (CORRUPT_ASSET would brand a good file corrupt for ever). */
export function workerFault(message: string): AssetError {
  return new WorkerFaultError(`worker fault (not the asset's): ${message}`);
}

/** Whether `err` is a fault of the worker rather than a verdict on the asset. */
export const isWorkerFault = (err: unknown): boolean => err instanceof WorkerFaultError;

/** The longest error message kept, in UTF-8 bytes: it is saved in a row, a log line and Redis. */
export const maxErrorMessageBytes = 1024;

const cutMark = ' …[cut]';
const encoder = new TextEncoder();
const cutMarkBytes = encoder.encode(cutMark).length;

/** `text` as it is when it fits in `maxErrorMessageBytes`, else cut on a character boundary and marked. */
export function boundedMessage(text: string): string {
  // A UTF-16 unit takes at most 3 UTF-8 bytes: anything this short fits without counting.
  if (text.length <= maxErrorMessageBytes / 3) return text;
  const budget = new Uint8Array(maxErrorMessageBytes);
  if (encoder.encodeInto(text, budget).read === text.length) return text;
  // encodeInto never splits a character (nor a surrogate pair): `read` units fit in the budget.
  const { read } = encoder.encodeInto(text, budget.subarray(0, maxErrorMessageBytes - cutMarkBytes));
  return text.slice(0, read) + cutMark;
}

/** The message of a thrown value where one is known to be (see above), else its kind; always bounded. */
export function messageOf(err: unknown): string {
  try {
    return boundedMessage(knownMessage(err) ?? `unknown error (a thrown ${kindOf(err)})`);
  } catch {
    // A getter that throws, a revoked proxy: nothing is read from such a value.
    return 'unknown error (unreadable)';
  }
}

function knownMessage(err: unknown): string | undefined {
  if (typeof err === 'string') return err;
  if (!err || typeof err !== 'object') return undefined;
  const { message, exception } = err as { message?: unknown; exception?: unknown };
  if (typeof message === 'string') return message;
  // dicom-parser wraps what went wrong (its own string, or a RangeError) beside the partial data set.
  if (typeof exception === 'string') return exception;
  if (exception instanceof Error && typeof exception.message === 'string') return exception.message;
  return undefined;
}

function kindOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (value instanceof Error) return 'Error without a text message';
  return typeof value;
}
