/**
 * `s3` storages (AWS S3, MinIO, R2, any S3-compatible endpoint): a GetObject URL presigned locally by the
 * SDK. Delegated access: the worker assumes the customer's role through STS (with their ExternalId) and
 * presigns with the temporary credentials, which the S3Client keeps until they end within 5 minutes.
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
