/**
 * Stage: sign. Every storage kind is a factory returning this one small interface; the pipeline gets a URL
 * from it and fetches the object by that URL alone, as the platform's frontend would (CONTRACT.md §2).
 */
import type { ResolvedStorage } from './storage-config.js';
import { StorageNotConfiguredError } from '../errors.js';
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
}

export type StorageRegistry = (storageId: string) => Storage;

/** One storage per configured entry, looked up by id; an unknown id is STORAGE_NOT_CONFIGURED. */
export function createStorages(entries: ResolvedStorage[]): StorageRegistry {
  const byId = new Map<string, Storage>();
  for (const entry of entries) {
    byId.set(entry.id, entry.kind === 's3' ? createS3Storage(entry) : createSignerStorage(entry));
  }
  return (storageId) => {
    const storage = byId.get(storageId);
    if (!storage) throw new StorageNotConfiguredError(`no storage with id "${storageId}" is configured`);
    return storage;
  };
}
