/**
 * One suite, every storage kind (as unstorage runs one suite over its drivers). Each kind runs against a
 * real implementation of its API where one runs here, each checking signatures and expiry:
 * - s3: the development S3 server (s3rver behind a SigV4-verifying proxy);
 * - azure: Azurite, the Azure Storage emulator, which checks SAS signatures and expiry;
 * - gcs: no emulator exists here; a local stand-in that checks V4 signatures with the public half of the
 *   test's service account key (test/helpers/gcs-server.ts). Real GCS was not run.
 * Objects are fetched by the project's downloader, and through the pipeline for re-signing.
 */
import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AssetResult } from '../../src/contract.js';
import { startAzurite } from '../helpers/azurite.js';
import { startS3Server } from '../../scripts/dev/s3-server.js';
import { extractFile } from '../../src/extractors/extract-file.js';
import { processAsset } from '../../src/pipeline.js';
import { createAzureStorage } from '../../src/storage/azure.js';
import { createDownloader, type Downloader } from '../../src/storage/download.js';
import { createGcsStorage } from '../../src/storage/gcs.js';
import { createS3Storage } from '../../src/storage/s3.js';
import type { Storage } from '../../src/storage/storage.js';
import { TempDir } from '../../src/storage/temp-dir.js';
import { startGcsServer } from '../helpers/gcs-server.js';
import { freshTempDir } from '../helpers/services.js';

/** What the suite needs of one kind: storages over objects it can put, and the secrets behind them. */
interface Backend {
  /** A storage over the objects `put` wrote; `wrongSecret` signs with a key the service does not know. */
  storage(options?: { ttlSeconds?: number; wrongSecret?: boolean }): Storage;
  put(key: string, body: Buffer): Promise<void>;
  /** The query parameter holding the signature. */
  signatureParam: string;
  /** Strings that must never appear in a URL, an error or a result. */
  secrets: string[];
  /**
   * How the service answers an expired URL. GCS answers 400 ExpiredToken (S3 and Azure 403); see the
   * expiry case below.
   */
  expiredStatus: 400 | 403;
  close(): Promise<void>;
}

const backends: Record<'s3' | 'azure' | 'gcs', () => Promise<Backend>> = {
  async s3() {
    const server = await startS3Server();
    const wrongSecret = randomBytes(30).toString('base64');
    return {
      storage: (o = {}) =>
        createS3Storage({
          id: 's3', kind: 's3', bucket: server.bucket, region: server.region, endpoint: server.endpoint, forcePathStyle: true,
          urlTtlSeconds: o.ttlSeconds ?? 60,
          credentials: { accessKeyId: server.accessKeyId, secretAccessKey: o.wrongSecret ? wrongSecret : server.secretAccessKey },
        }),
      put: (key, body) => server.putObject(key, body),
      signatureParam: 'X-Amz-Signature',
      secrets: [server.secretAccessKey, wrongSecret],
      expiredStatus: 403,
      close: () => server.close(),
    };
  },
  async azure() {
    const azurite = await startAzurite();
    await azurite.createContainer('assets');
    const wrongKey = randomBytes(64).toString('base64');
    return {
      storage: (o = {}) =>
        createAzureStorage({
          id: 'azure', kind: 'azure', account: azurite.account, container: 'assets', endpoint: azurite.endpoint,
          urlTtlSeconds: o.ttlSeconds ?? 60, accountKey: o.wrongSecret ? wrongKey : azurite.accountKey,
        }),
      put: (key, body) => azurite.putBlob('assets', key, body),
      signatureParam: 'sig',
      secrets: [azurite.accountKey, wrongKey],
      expiredStatus: 403,
      close: () => azurite.close(),
    };
  },
  async gcs() {
    const pem = () => generateKeyPairSync('rsa', { modulusLength: 2048 });
    const good = pem();
    const wrong = pem();
    const email = 'asset-reader@test-project.iam.gserviceaccount.com';
    const server = await startGcsServer(new Map([[email, good.publicKey]]));
    const privatePem = (k: typeof good) => k.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const body = (k: typeof good) => privatePem(k).split('\n')[5]!; // a line of the key's base64 body
    return {
      storage: (o = {}) =>
        createGcsStorage({
          id: 'gcs', kind: 'gcs', bucket: 'assets', credentialsJsonEnv: 'GCS_KEY_JSON', endpoint: server.endpoint,
          urlTtlSeconds: o.ttlSeconds ?? 60,
          serviceAccount: { client_email: email, private_key: privatePem(o.wrongSecret ? wrong : good) },
        }),
      put: async (key, data) => server.put('assets', key, data),
      signatureParam: 'X-Goog-Signature',
      secrets: [body(good), body(wrong)],
      expiredStatus: 400,
      close: () => server.close(),
    };
  },
};

const limits = { maxBytes: 1 << 20, timeoutMs: 10_000, stallTimeoutMs: 5_000 };
const extractConfig = { timeoutMs: 10_000, maxHeapMb: 128, pdfMaxPageSizes: 100, dicomIncludePhi: false };
const content = Buffer.from('Every storage the platform supports.\nSecond line.\n');
const sha256 = createHash('sha256').update(content).digest('hex');
// A folder, a space, '+', a parenthesis and non-ASCII: each kind must encode the key as its service expects.
const key = 'uploads/2024/a b+c (1) ünïcødé.txt';

describe.each(Object.keys(backends) as (keyof typeof backends)[])('%s storage', (kind) => {
  const tmp = freshTempDir();
  let backend: Backend;
  let dir: TempDir;
  let downloader: Downloader;

  beforeAll(async () => {
    backend = await backends[kind]();
    await backend.put(key, content);
    dir = await TempDir.create(tmp.dir);
    downloader = createDownloader();
  });

  afterAll(async () => {
    await downloader?.close();
    await dir?.close();
    await backend?.close();
    tmp.remove();
  });

  const download = (url: string) => downloader.download(url, dir, limits);

  /** Runs one job through the pipeline with `sign` as the storage; counts the signatures. */
  async function pipeline(objectKey: string, sign: Storage['sign']): Promise<{ result: AssetResult; signs: number }> {
    let signs = 0;
    const storage: Storage = { id: kind, kind, sign: (ref) => (signs++, sign(ref)) };
    const result = await processAsset(
      { assetId: `${kind}/${objectKey}`, source: { type: 'storage', storageId: kind, key: objectKey } },
      { storages: () => storage, signedDownloader: downloader, urlDownloader: downloader, temp: dir, limits, extractConfig, extract: extractFile },
    );
    return { result, signs };
  }

  const expectNoSecret = (text: string) => {
    for (const secret of backend.secrets) expect(text).not.toContain(secret);
  };

  it('signs a URL for one object that expires after urlTtlSeconds and carries no secret', async () => {
    const storage = backend.storage({ ttlSeconds: 120 });
    const before = Date.now();
    const signed = await storage.sign({ assetId: 'a', key });
    expect(signed.expiresAt!.getTime()).toBeGreaterThanOrEqual(before + 119_000);
    expect(signed.expiresAt!.getTime()).toBeLessThanOrEqual(Date.now() + 120_000);
    expect(new URL(signed.url).searchParams.get(backend.signatureParam)).toBeTruthy();
    expectNoSecret(signed.url);
    expectNoSecret(JSON.stringify(storage));
  });

  it('downloads the object by the URL alone', async () => {
    const { url } = await backend.storage().sign({ assetId: 'a', key });
    const file = await download(url);
    expect(file).toMatchObject({ sizeBytes: content.length, sha256 });
    expect(await readFile(file.path)).toEqual(content);
    await dir.remove(file.path);
  });

  it('a tampered URL is refused with ACCESS_DENIED', async () => {
    const { url } = await backend.storage().sign({ assetId: 'a', key });
    const forged = new URL(url);
    const signature = forged.searchParams.get(backend.signatureParam)!;
    forged.searchParams.set(backend.signatureParam, `${signature.slice(0, 8)}${signature[8] === '0' ? '1' : '0'}${signature.slice(9)}`);
    await expect(download(forged.href)).rejects.toMatchObject({ code: 'ACCESS_DENIED' });

    // The same signature for another object: the key is part of what is signed.
    await backend.put('uploads/other.txt', content);
    const moved = new URL(url);
    moved.pathname = moved.pathname.replace(/[^/]+$/, 'other.txt');
    await expect(download(moved.href)).rejects.toMatchObject({ code: 'ACCESS_DENIED' });
  });

  /** One URL signed with a 1-second lifetime, used once it has expired; made once for the two cases below. */
  let expired: Promise<string> | undefined;
  const expiredUrl = () =>
    (expired ??= (async () => {
      const signed = await backend.storage({ ttlSeconds: 1 }).sign({ assetId: 'a', key });
      await sleep(signed.expiresAt!.getTime() - Date.now() + 1_200);
      return signed.url;
    })());

  it('an expired URL is refused with ACCESS_DENIED', async () => {
    const url = await expiredUrl();
    const res = await fetch(url);
    await res.arrayBuffer();
    expect(res.status).toBe(backend.expiredStatus);
    await expect(download(url)).rejects.toMatchObject({ code: 'ACCESS_DENIED' });
  });

  it('an URL that expired before the download is signed again, once', async () => {
    const url = await expiredUrl();
    const fresh = backend.storage();
    let first = true;
    const { result, signs } = await pipeline(key, async (ref) => {
      if (first) {
        first = false;
        return { url };
      }
      return fresh.sign(ref);
    });
    // Whatever status the store refuses an expired URL with (GCS: 400 ExpiredToken), one re-sign follows.
    expect(result).toMatchObject({ status: 'ok', dataType: 'text', sha256, sizeBytes: content.length });
    expect(signs).toBe(2);
    expectNoSecret(JSON.stringify(result));
  });

  it('a missing object is NOT_FOUND, with one signature', async () => {
    const storage = backend.storage();
    const { url } = await storage.sign({ assetId: 'a', key: 'uploads/no such object.txt' });
    await expect(download(url)).rejects.toMatchObject({ code: 'NOT_FOUND' });
    const { result, signs } = await pipeline('uploads/no such object.txt', (ref) => storage.sign(ref));
    expect(result).toMatchObject({ status: 'failed', error: { code: 'NOT_FOUND', retriable: false } });
    expect(signs).toBe(1);
    expect(result.error!.message).not.toContain(backend.signatureParam);
  });

  it('a key the service does not accept is ACCESS_DENIED after one re-sign, and no secret shows', async () => {
    const storage = backend.storage({ wrongSecret: true });
    const { url } = await storage.sign({ assetId: 'a', key });
    const refused = await download(url).catch((e: unknown) => e);
    expect(refused).toMatchObject({ code: 'ACCESS_DENIED' });
    const { result, signs } = await pipeline(key, (ref) => storage.sign(ref));
    expect(result).toMatchObject({ status: 'failed', error: { code: 'ACCESS_DENIED', retriable: false } });
    expect(signs).toBe(2);
    const text = `${JSON.stringify(result)} ${(refused as Error).message}`;
    expectNoSecret(text);
    expect(text).not.toContain(new URL(url).searchParams.get(backend.signatureParam)!);
    expect(tmp.files()).toEqual([]);
  });
});
