/**
 * Stage: sign. Every storage kind is a factory returning this one small interface; the pipeline gets a URL
 * from it and fetches the object by that URL alone, as the platform's frontend would (docs/contract.md §2).
 * One file per kind (s3.ts, azure.ts, gcs.ts, signer.ts); registry.ts is the one place that knows them all.
 */
import { AccessDeniedError, NotFoundError, StorageUnavailableError, messageOf, type AssetError } from '../errors.js';
import type { ResolvedStorage } from './storage-config.js';

export interface ObjectRef {
  assetId: string;
  key: string;
  versionId?: string;
}

export interface SignedUrl {
  url: string;
  expiresAt?: Date;
}

export interface Storage {
  readonly id: string;
  readonly kind: ResolvedStorage['kind'];
  /** A short-lived URL for one object. Throws coded errors (STORAGE_UNAVAILABLE, ACCESS_DENIED, ...). */
  sign(ref: ObjectRef): Promise<SignedUrl>;
  /**
   * The key of some object in the storage, or undefined when it is empty; only where the provider can
   * list (`asset-meta storages check` without --key). Needs a list permission the pipeline never uses.
   */
  sampleKey?(): Promise<string | undefined>;
}

export type StorageRegistry = (storageId: string) => Storage;

/**
 * A provider SDK's failure by the HTTP status it carries: 404 NOT_FOUND; another 4xx but 429, or `denied`,
 * ACCESS_DENIED (the same answer next time); else (unreachable, no credentials yet, 429, 5xx) STORAGE_UNAVAILABLE.
 */
export function sdkError(id: string, doing: string, err: unknown, status: unknown, denied = false): AssetError {
  const message = `storage ${id}: cannot ${doing}: ${messageOf(err)}`;
  if (status === 404) return new NotFoundError(message, { cause: err });
  if (denied || (typeof status === 'number' && status >= 400 && status < 500 && status !== 429)) {
    return new AccessDeniedError(message, { cause: err });
  }
  return new StorageUnavailableError(message, { cause: err });
}
