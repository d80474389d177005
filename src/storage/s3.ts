/**
 * `s3` storages (AWS S3, MinIO, R2, any S3-compatible endpoint): a GetObject URL presigned locally by the
 * SDK. Delegated access: the worker assumes the customer's role through STS (with their ExternalId) and
 * presigns with the temporary credentials, which the S3Client keeps until they end within 5 minutes.
 *
 * Presigning is getSignedUrl's own (@aws-sdk/s3-request-presigner): the command runs through the client's
 * middleware (serialisation, endpoint, addressing) and stops, before the auth step, in the SDK's presigner.
 * None of that stack's work depends on the key but the path, and under a replica's load it cost about 1 ms
 * of CPU a job (the queue-cost bench, with every job signed twice). So a storage's first request, built
 * by the stack, is kept with its key cut off the path; each later key is put in its place, escaped by
 * the SDK's own label encoder, and signed by the same presigner with the same credentials. A path that
 * does not end with its key so escaped is not kept (the stack builds the next request too), nor is a
 * directory bucket's (S3 Express: signed with its session, as getSignedUrl does). The URLs are
 * getSignedUrl's, byte for byte (test/storage/s3-presign.test.ts, awkward and random keys).
 */
import { formatUrl } from '@aws-sdk/core/util';
import { GetObjectCommand, ListObjectsV2Command, S3Client, type S3ClientConfig } from '@aws-sdk/client-s3';
import { extendedEncodeURIComponent } from '@smithy/core/protocols';
import { fromTemporaryCredentials } from '@aws-sdk/credential-providers';
import { S3RequestPresigner } from '@aws-sdk/s3-request-presigner';
import type { ResolvedS3Storage } from './storage-config.js';
import { sdkError, type ObjectRef, type Storage } from './storage.js';

/** Names the worker's sessions in the customer's CloudTrail. */
export const defaultRoleSessionName = 'asset-metadata-worker';
/** One hour: STS's default, and no role's maximum session duration is shorter. */
export const defaultRoleDurationSeconds = 3600;

export function createS3Storage(config: ResolvedS3Storage): Storage {
  const clientConfig: S3ClientConfig = {
    region: config.region,
    forcePathStyle: config.forcePathStyle,
    ...(config.endpoint ? { endpoint: config.endpoint } : {}),
    // Without a role or explicit keys the SDK's default chain applies (env, profile, web identity, ECS/IMDS).
    ...(config.roleArn
      ? { credentials: assumeRole(config, config.roleArn) }
      : config.credentials
        ? { credentials: config.credentials }
        : {}),
  };
  const client = new S3Client(clientConfig);
  // The same credentials (one STS session, one default chain) for listing and for signing.
  const presign = presignerFor({ ...clientConfig, credentials: client.config.credentials }, config.bucket, config.urlTtlSeconds);
  const statusOf = (err: unknown) => (err as { $metadata?: { httpStatusCode?: number } } | undefined)?.$metadata?.httpStatusCode;
  return {
    id: config.id,
    kind: 's3',
    async sign(ref) {
      try {
        // Only credential resolution can fail here: STS refusing the role is permanent, STS unreachable is not.
        const url = await presign(ref);
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

type Request = Parameters<S3RequestPresigner['presign']>[0];
type Credentials = Parameters<S3RequestPresigner['presignWithCredentials']>[1];
interface Built {
  request: Request;
  options: { expiresIn: number; signingRegion?: string; signingService?: string };
  /** An S3 Express (directory bucket) session: signed with it, as getSignedUrl does, never templated. */
  express?: Credentials;
}

/** A greedy {Key+} path label as the SDK's serialiser writes it: each segment escaped, the slashes kept. */
const encodeKey = (key: string) => key.split('/').map(extendedEncodeURIComponent).join('/');

/** getSignedUrl's steps (@aws-sdk/s3-request-presigner 3.x, getSignedUrl.js) on a stack resolved once; a storage's later keys from its first request. */
function presignerFor(clientConfig: S3ClientConfig, bucket: string, expiresIn: number): (ref: ObjectRef) => Promise<string> {
  const signing = new S3Client({ ...clientConfig, cacheMiddleware: true });
  const presigner = new S3RequestPresigner({ ...signing.config });
  const step = (_next: unknown, context: Record<string, unknown>) => async ({ request }: { request: Request }) => {
    // What getSignedUrl drops: headers that vary per call and are not part of a GET's signature.
    for (const name of ['amz-sdk-invocation-id', 'amz-sdk-request', 'x-amz-user-agent']) delete request.headers[name];
    const options = { expiresIn, signingRegion: context['signing_region'] as string, signingService: context['signing_service'] as string };
    const express = context['s3ExpressIdentity'] as Credentials | undefined;
    return { response: {}, output: { $metadata: { httpStatusCode: 200 }, request, options, ...(express ? { express } : {}) } };
  };
  const at = { name: 'presignInterceptMiddleware', relation: 'before', toMiddleware: 'awsAuthMiddleware', override: true } as const;
  signing.middlewareStack.addRelativeTo(step as unknown as Parameters<typeof signing.middlewareStack.addRelativeTo>[0], at);

  let template: (Omit<Built, 'express'> & { prefix: string }) | undefined;
  // The presigner writes into the request's headers: each URL signs a copy.
  const copy = (r: Request, path: string, versionId?: string): Request => ({ ...r, path, headers: { ...r.headers }, query: { ...r.query, ...(versionId ? { versionId } : {}) } });
  return async ({ key, versionId }) => {
    if (template) return formatUrl(await presigner.presign(copy(template.request, template.prefix + encodeKey(key), versionId), template.options));
    const command = new GetObjectCommand({ Bucket: bucket, Key: key, ...(versionId ? { VersionId: versionId } : {}) });
    const { request, options, express } = (await signing.send(command)) as unknown as Built;
    if (express) return formatUrl(await presigner.presignWithCredentials(request, express, options));
    const path = encodeKey(key);
    if (request.path.endsWith(path)) {
      const query = { ...request.query };
      delete query['versionId'];
      template = { request: { ...request, query }, options, prefix: request.path.slice(0, request.path.length - path.length) };
    }
    return formatUrl(await presigner.presign(copy(request, request.path), options));
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
