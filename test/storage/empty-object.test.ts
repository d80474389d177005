/**
 * An empty (0-byte) object, from each store kind that runs here: the dev S3 server, Azurite and the GCS
 * stand-in (test/helpers/gcs-server.ts). Each is read as a 0-byte file, at once and in one attempt, and the
 * pipeline ends it as it ends a local empty file: UNSUPPORTED_TYPE "empty file", not retried.
 */
import { generateKeyPairSync } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAzurite } from '../helpers/azurite.js';
import { startS3Server } from '../../scripts/dev/s3-server.js';
import { extractFile } from '../../src/extractors/extract-file.js';
import { processAsset } from '../../src/pipeline.js';
import { createAzureStorage } from '../../src/storage/azure.js';
import { createDownloader } from '../../src/storage/download.js';
import { createGcsStorage } from '../../src/storage/gcs.js';
import { fetchForExtraction } from '../../src/storage/ranged/ranged-read.js';
import { createS3Storage } from '../../src/storage/s3.js';
import type { Storage } from '../../src/storage/storage.js';
import { TempDir } from '../../src/storage/temp-dir.js';
import { testExtractConfig } from '../helpers/fixtures.js';
import { startGcsServer } from '../helpers/gcs-server.js';
import { freshTempDir } from '../helpers/services.js';

interface Store {
  storage: Storage;
  close(): Promise<void>;
}

/** Each store with one empty object at `empty/object`. */
const stores: Record<'s3' | 'azure' | 'gcs', () => Promise<Store>> = {
  async s3() {
    const s = await startS3Server();
    await s.putObject('empty/object', Buffer.alloc(0));
    const storage = createS3Storage({
      id: 's3', kind: 's3', bucket: s.bucket, region: s.region, endpoint: s.endpoint, forcePathStyle: true, urlTtlSeconds: 60,
      credentials: { accessKeyId: s.accessKeyId, secretAccessKey: s.secretAccessKey },
    });
    return { storage, close: () => s.close() };
  },
  async azure() {
    const a = await startAzurite();
    await a.createContainer('assets');
    await a.putBlob('assets', 'empty/object', Buffer.alloc(0));
    const storage = createAzureStorage({ id: 'azure', kind: 'azure', account: a.account, container: 'assets', endpoint: a.endpoint, urlTtlSeconds: 60, accountKey: a.accountKey });
    return { storage, close: () => a.close() };
  },
  async gcs() {
    const key = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const email = 'asset-reader@test-project.iam.gserviceaccount.com';
    const g = await startGcsServer(new Map([[email, key.publicKey]]));
    await g.put('assets', 'empty/object', Buffer.alloc(0));
    const storage = createGcsStorage({
      id: 'gcs', kind: 'gcs', bucket: 'assets', credentialsJsonEnv: 'GCS_KEY_JSON', endpoint: g.endpoint, urlTtlSeconds: 60,
      serviceAccount: { client_email: email, private_key: key.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() },
    });
    return { storage, close: () => g.close() };
  },
};

const limits = { maxBytes: 1 << 20, timeoutMs: 10_000, stallTimeoutMs: 3_000 };
const emptySha = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

describe.each(Object.keys(stores) as (keyof typeof stores)[])('an empty object from %s', (kind) => {
  const tmp = freshTempDir();
  const downloader = createDownloader();
  let store: Store;
  let temp: TempDir;

  beforeAll(async () => {
    store = await stores[kind]();
    temp = await TempDir.create(tmp.dir);
  }, 60_000);

  afterAll(async () => {
    await downloader.close();
    await temp?.close();
    await store?.close();
    tmp.remove();
  });

  it('is a 0-byte file, well before the stall timeout', async () => {
    const started = Date.now();
    const file = await fetchForExtraction(downloader, (await store.storage.sign({ assetId: 'e', key: 'empty/object' })).url, temp, limits, 0);
    expect(Date.now() - started).toBeLessThan(limits.stallTimeoutMs / 2);
    expect([file.sizeBytes, file.sha256, file.sha256Scope]).toEqual([0, emptySha, 'full']);
    await temp.remove(file.path);
  });

  it('ends UNSUPPORTED_TYPE "empty file", not retried', async () => {
    const result = await processAsset({ assetId: 'e', source: { type: 'storage', storageId: kind, key: 'empty/object' } }, {
      storages: () => store.storage, signedDownloader: downloader, urlDownloader: downloader, temp, limits, extractConfig: testExtractConfig(), extract: extractFile,
    });
    expect(result).toMatchObject({ status: 'failed', sizeBytes: 0, sha256: emptySha, error: { code: 'UNSUPPORTED_TYPE', message: 'empty file', retriable: false } });
    expect(tmp.files()).toEqual([]);
  });
});
