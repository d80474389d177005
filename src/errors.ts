/**
 * One catalogue of coded errors (CONTRACT.md §4). Whether an error is retriable is decided here, where
 * its class is chosen, never by matching message text later.
 *
 * Across a thread or process boundary classes are lost: `fromSerialized` rebuilds them from `code`.
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

  toJSON(): { code: ErrorCode; message: string; retriable: boolean } {
    return { code: this.code, message: this.message, retriable: this.retriable };
  }
}

function define<C extends ErrorCode>(code: C, retriable: boolean) {
  const Cls = class extends AssetError {
    readonly code = code;
    readonly retriable = retriable;
    override readonly name: string = `${code}`;
  };
  return Cls;
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

const byCode: Record<ErrorCode, new (message: string, options?: ErrorOptions) => AssetError> = {
  INVALID_JOB: InvalidJobError,
  STORAGE_NOT_CONFIGURED: StorageNotConfiguredError,
  URL_NOT_ALLOWED: UrlNotAllowedError,
  NOT_FOUND: NotFoundError,
  ACCESS_DENIED: AccessDeniedError,
  STORAGE_UNAVAILABLE: StorageUnavailableError,
  DOWNLOAD_TIMEOUT: DownloadTimeoutError,
  RESULT_SINK_UNAVAILABLE: ResultSinkUnavailableError,
  TOO_LARGE: TooLargeError,
  UNSUPPORTED_TYPE: UnsupportedTypeError,
  CORRUPT_ASSET: CorruptAssetError,
  ENCRYPTED_ASSET: EncryptedAssetError,
  EXTRACT_TIMEOUT: ExtractTimeoutError,
};

export function isAssetError(err: unknown): err is AssetError {
  return err instanceof AssetError;
}

/** Rebuilds a coded error that crossed a thread/process boundary as `{ code, message }`. */
export function fromSerialized(value: { code: ErrorCode; message: string; detected?: DetectedType }): AssetError {
  const Cls = byCode[value.code];
  const err = new Cls(value.message);
  if (value.detected) err.detected = value.detected;
  return err;
}

/** Libraries throw strings and plain objects (dicom-parser does): give back a readable message. */
export function messageOf(err: unknown): string {
  if (err instanceof Error) return err.message;
  if (typeof err === 'string') return err;
  if (err && typeof err === 'object') {
    const o = err as Record<string, unknown>;
    if (typeof o.exception === 'string') return o.exception;
    if (typeof o.message === 'string') return o.message;
  }
  try {
    return JSON.stringify(err) ?? String(err);
  } catch {
    return String(err);
  }
}
