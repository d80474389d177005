/**
 * `gcs` storages: a V4 signed URL for one object, signed locally with a service account key by
 * @google-cloud/storage (keyless identities are not supported). GCS with HMAC keys is an `s3` storage
 * instead (docs/storages.md). The SDK loads on first use.
 */
import type { ResolvedGcsStorage } from './storage-config.js';
import { sdkError, type Storage } from './storage.js';

type Bucket = import('@google-cloud/storage').Bucket;

export function createGcsStorage(config: ResolvedGcsStorage): Storage {
  let bucket: Promise<Bucket> | undefined;
  const load = () => {
    bucket ??= (async () => {
      const { Storage: GcsClient } = await import('@google-cloud/storage');
      const client = new GcsClient({
        credentials: { client_email: config.serviceAccount.client_email, private_key: config.serviceAccount.private_key },
        ...(config.serviceAccount.project_id ? { projectId: config.serviceAccount.project_id } : {}),
        ...(config.endpoint ? { apiEndpoint: config.endpoint } : {}),
      });
      return client.bucket(config.bucket);
    })();
    return bucket;
  };
  return {
    id: config.id,
    kind: 'gcs',
    async sign(ref) {
      const file = (await load()).file(ref.key);
      // Whole seconds: X-Goog-Expires is the difference of the two, and must be an integer.
      const now = Math.floor(Date.now() / 1000) * 1000;
      const expiresAt = new Date(now + config.urlTtlSeconds * 1000);
      try {
        const [url] = await file.getSignedUrl({
          version: 'v4',
          action: 'read',
          accessibleAt: new Date(now),
          expires: expiresAt,
          // A version is a generation number; as a signed query parameter it cannot be changed.
          ...(ref.versionId ? { queryParams: { generation: ref.versionId } } : {}),
        });
        return { url, expiresAt };
      } catch (err) {
        // A key that cannot sign (malformed, wrong type) will not sign later either.
        throw sdkError(config.id, 'sign with the service account key', err, undefined, true);
      }
    },
    async sampleKey() {
      try {
        const [files] = await (await load()).getFiles({ maxResults: 1, autoPaginate: false });
        return files[0]?.name;
      } catch (err) {
        // JSON API errors (ApiError) carry the HTTP status in `code`.
        throw sdkError(config.id, 'list objects', err, (err as { code?: unknown } | undefined)?.code);
      }
    },
  };
}
