/**
 * `s3` storages: the worker presigns a GetObject URL itself (AWS S3, MinIO, R2, GCS interoperability, any
 * S3-compatible endpoint). Signing is local computation: no request reaches the store until the download.
 */
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { StorageUnavailableError, messageOf } from '../errors.js';
import type { ResolvedS3Storage } from './storage-config.js';
import type { Storage } from './storage.js';

export function createS3Storage(config: ResolvedS3Storage): Storage {
  const client = new S3Client({
    region: config.region,
    forcePathStyle: config.forcePathStyle,
    ...(config.endpoint ? { endpoint: config.endpoint } : {}),
    // Without explicit keys the SDK's default chain applies (env, profile, web identity, ECS/IMDS role).
    ...(config.credentials ? { credentials: config.credentials } : {}),
  });
  return {
    id: config.id,
    kind: 's3',
    async sign(ref) {
      const command = new GetObjectCommand({
        Bucket: config.bucket,
        Key: ref.key,
        ...(ref.versionId ? { VersionId: ref.versionId } : {}),
      });
      try {
        const url = await getSignedUrl(client, command, { expiresIn: config.urlTtlSeconds });
        return { url, expiresAt: new Date(Date.now() + config.urlTtlSeconds * 1000) };
      } catch (err) {
        // Only credential resolution can fail here (no request is sent): the chain may be reachable later.
        throw new StorageUnavailableError(`cannot sign for storage ${config.id}: ${messageOf(err)}`, { cause: err });
      }
    },
  };
}
