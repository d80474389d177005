/**
 * `s3` storages: the worker presigns a GetObject URL itself (AWS S3, MinIO, R2, GCS interoperability, any
 * S3-compatible endpoint). Signing is local computation: no request reaches the store until the download,
 * except the AssumeRole call of delegated access (s3-role.ts), made once per credential lifetime.
 */
import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { AccessDeniedError, NotFoundError, StorageUnavailableError, messageOf, type AssetError } from '../errors.js';
import { createS3Presigner } from './s3-presign.js';
import { assumeRoleCredentials } from './s3-role.js';
import type { ResolvedS3Storage } from './storage-config.js';
import type { Storage } from './storage.js';

export function createS3Storage(config: ResolvedS3Storage): Storage {
  const roleArn = config.roleArn;
  const client = new S3Client({
    region: config.region,
    forcePathStyle: config.forcePathStyle,
    ...(config.endpoint ? { endpoint: config.endpoint } : {}),
    // Without a role or explicit keys the SDK's default chain applies (env, profile, web identity, ECS/IMDS).
    ...(roleArn
      ? { credentials: assumeRoleCredentials({ ...config, roleArn }) }
      : config.credentials
        ? { credentials: config.credentials }
        : {}),
  });
  const presign = createS3Presigner(client, config.bucket, config.urlTtlSeconds);
  return {
    id: config.id,
    kind: 's3',
    async sign(ref) {
      try {
        const url = await presign({ key: ref.key, ...(ref.versionId ? { versionId: ref.versionId } : {}) });
        return { url, expiresAt: new Date(Date.now() + config.urlTtlSeconds * 1000) };
      } catch (err) {
        throw storageError(config.id, 'sign', err);
      }
    },
    async sampleKey() {
      try {
        const page = await client.send(new ListObjectsV2Command({ Bucket: config.bucket, MaxKeys: 1 }));
        return page.Contents?.[0]?.Key;
      } catch (err) {
        throw storageError(config.id, 'list objects', err);
      }
    },
  };
}

/** The HTTP status of an AWS SDK service error, if it came from a response. */
const statusOf = (err: unknown): number | undefined =>
  (err as { $metadata?: { httpStatusCode?: number } } | undefined)?.$metadata?.httpStatusCode;

/**
 * While presigning only credential resolution can fail. STS refusing the role (a trust policy or ExternalId
 * that does not match) is permanent, as is S3 refusing a listing; anything else (no credentials yet, STS or
 * S3 unreachable, throttling, 5xx) may pass.
 */
function storageError(id: string, doing: string, err: unknown): AssetError {
  const status = statusOf(err);
  const message = `storage ${id}: cannot ${doing}: ${messageOf(err)}`;
  if (status === 404) return new NotFoundError(message, { cause: err });
  if (status !== undefined && status >= 400 && status < 500 && status !== 429) {
    return new AccessDeniedError(message, { cause: err });
  }
  return new StorageUnavailableError(message, { cause: err });
}
