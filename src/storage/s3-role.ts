/**
 * Delegated access for `s3` storages: the customer keeps the bucket and grants a role; the worker assumes
 * it through STS (AssumeRole with the customer's ExternalId) and presigns with the temporary credentials.
 *
 * Caching and refresh are the SDK's: `fromTemporaryCredentials` calls STS on every invocation, and the
 * S3Client wraps whatever credential provider it gets in `memoizeIdentityProvider` (@smithy/core), which
 * keeps the credentials and calls the provider again only when they expire within 5 minutes
 * (`EXPIRATION_MS`). test/storage/s3-role.test.ts checks both against a fake STS endpoint.
 */
import { fromTemporaryCredentials } from '@aws-sdk/credential-providers';
import type { ResolvedS3Storage } from './storage-config.js';

/** Names the worker's sessions in the customer's CloudTrail. */
export const defaultRoleSessionName = 'asset-metadata-worker';
/** One hour: STS's default, and no role's maximum session duration is shorter. */
export const defaultRoleDurationSeconds = 3600;

/** A credential provider that assumes the entry's role; the caller's client memoizes it. */
export function assumeRoleCredentials(
  config: ResolvedS3Storage & { roleArn: string },
): ReturnType<typeof fromTemporaryCredentials> {
  return fromTemporaryCredentials({
    params: {
      RoleArn: config.roleArn,
      RoleSessionName: config.roleSessionName ?? defaultRoleSessionName,
      DurationSeconds: config.roleDurationSeconds ?? defaultRoleDurationSeconds,
      ...(config.externalId ? { ExternalId: config.externalId } : {}),
    },
    // The worker's own identity signs the AssumeRole call: the keys the entry names, else the SDK's
    // default chain (env, profile, web identity, ECS/EC2 role).
    ...(config.credentials ? { masterCredentials: config.credentials } : {}),
    clientConfig: {
      region: config.region,
      ...(config.stsEndpoint ? { endpoint: config.stsEndpoint } : {}),
    },
  });
}
