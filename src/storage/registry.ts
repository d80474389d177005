/** The one place that knows every storage kind. Adding a kind is one case here and one file beside it. */
import { StorageNotConfiguredError } from '../errors.js';
import { createAzureStorage } from './azure.js';
import { createGcsStorage } from './gcs.js';
import { createS3Storage } from './s3.js';
import { createSignerStorage } from './signer.js';
import type { ResolvedStorage } from './storage-config.js';
import type { Storage, StorageRegistry } from './storage.js';

/** The storage for one entry; it holds the entry's credentials and exposes none. */
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
