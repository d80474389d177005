/**
 * Stage: sign. Every storage kind is a factory returning this one small interface; the pipeline gets a URL
 * from it and fetches the object by that URL alone, as the platform's frontend would (CONTRACT.md §2).
 * One file per kind: s3.ts (with s3-role.ts for delegated access), azure.ts, gcs.ts, signer.ts.
 */
import type { ResolvedStorage } from './storage-config.js';
import { StorageNotConfiguredError } from '../errors.js';
import { createAzureStorage } from './azure.js';
import { createGcsStorage } from './gcs.js';
import { createS3Storage } from './s3.js';
import { createSignerStorage } from './signer.js';

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

/** The storage for one entry. Holds its credentials; the plain object it returns exposes none. */
export function createStorage(entry: ResolvedStorage): Storage {
  switch (entry.kind) {
    case 's3':
      return createS3Storage(entry);
    case 'azure':
      return createAzureStorage(entry);
    case 'gcs':
      return createGcsStorage(entry);
    case 'signer':
      return createSignerStorage(entry);
  }
}

/** One storage per configured entry, looked up by id; an unknown id is STORAGE_NOT_CONFIGURED. */
export function createStorages(entries: ResolvedStorage[]): StorageRegistry {
  const byId = new Map<string, Storage>(entries.map((entry) => [entry.id, createStorage(entry)]));
  return (storageId) => {
    const storage = byId.get(storageId);
    if (!storage) throw new StorageNotConfiguredError(`no storage with id "${storageId}" is configured`);
    return storage;
  };
}
