/**
 * `s3` storages: the worker presigns a GetObject URL itself (AWS S3, MinIO, R2, GCS interoperability, any
 * S3-compatible endpoint) with the SDK's getSignedUrl. Signing is local computation: no request reaches
 * the store until the download, except the AssumeRole call of delegated access.
 *
 * Delegated access: the customer keeps the bucket and grants a role; the worker assumes it through STS
 * (with the customer's ExternalId) and presigns with the temporary credentials. `fromTemporaryCredentials`
 * calls STS on every invocation; the S3Client memoizes it and calls it again only when the credentials end
 * within 5 minutes. test/storage/s3-role.test.ts checks both against a fake STS endpoint.
 */
import { GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { fromTemporaryCredentials } from '@aws-sdk/credential-providers';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import type { ResolvedS3Storage } from './storage-config.js';
import { sdkError, type Storage } from './storage.js';

/** Names the worker's sessions in the customer's CloudTrail. */
export const defaultRoleSessionName = 'asset-metadata-worker';
/** One hour: STS's default, and no role's maximum session duration is shorter. */
export const defaultRoleDurationSeconds = 3600;

export function createS3Storage(config: ResolvedS3Storage): Storage {
  const client = new S3Client({
    region: config.region,
    forcePathStyle: config.forcePathStyle,
    ...(config.endpoint ? { endpoint: config.endpoint } : {}),
    // Without a role or explicit keys the SDK's default chain applies (env, profile, web identity, ECS/IMDS).
    ...(config.roleArn
      ? { credentials: assumeRole(config, config.roleArn) }
      : config.credentials
        ? { credentials: config.credentials }
        : {}),
  });
  // The HTTP status of an AWS SDK service error, if it came from a response.
  const statusOf = (err: unknown) => (err as { $metadata?: { httpStatusCode?: number } } | undefined)?.$metadata?.httpStatusCode;
  return {
    id: config.id,
    kind: 's3',
    async sign(ref) {
      const command = new GetObjectCommand({ Bucket: config.bucket, Key: ref.key, ...(ref.versionId ? { VersionId: ref.versionId } : {}) });
      try {
        // Only credential resolution can fail here: STS refusing the role is permanent, STS unreachable is not.
        const url = await getSignedUrl(client, command, { expiresIn: config.urlTtlSeconds });
        return { url, expiresAt: new Date(Date.now() + config.urlTtlSeconds * 1000) };
      } catch (err) {
        throw sdkError(config.id, 'sign', err, statusOf(err));
      }
    },
    async sampleKey() {
      try {
        const page = await client.send(new ListObjectsV2Command({ Bucket: config.bucket, MaxKeys: 1 }));
        return page.Contents?.[0]?.Key;
      } catch (err) {
        throw sdkError(config.id, 'list objects', err, statusOf(err));
      }
    },
  };
}

function assumeRole(config: ResolvedS3Storage, roleArn: string) {
  return fromTemporaryCredentials({
    params: {
      RoleArn: roleArn,
      RoleSessionName: config.roleSessionName ?? defaultRoleSessionName,
      DurationSeconds: config.roleDurationSeconds ?? defaultRoleDurationSeconds,
      ...(config.externalId ? { ExternalId: config.externalId } : {}),
    },
    // The worker's own identity signs the AssumeRole call: the entry's keys, else the SDK's default chain.
    ...(config.credentials ? { masterCredentials: config.credentials } : {}),
    clientConfig: { region: config.region, ...(config.stsEndpoint ? { endpoint: config.stsEndpoint } : {}) },
  });
}
