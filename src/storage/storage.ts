/**
 * Stage: sign. Every storage kind is a factory returning this one small interface; the pipeline gets a URL
 * from it and fetches the object by that URL alone, as the platform's frontend would (docs/contract.md §2).
 * One file per kind: s3.ts (with s3-role.ts for delegated access), azure.ts, gcs.ts, signer.ts; registry.ts
 * is the one place that knows them all.
 */
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
