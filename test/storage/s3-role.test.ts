/**
 * Delegated access for `s3`: the worker assumes the customer's role through STS (a local fake that checks
 * SigV4) and presigns with the temporary credentials, which the verifying S3 server then accepts. No real
 * STS or AWS account is used.
 */
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startS3Server, type S3Server } from '../../scripts/dev/s3-server.js';
import { createDownloader } from '../../src/storage/download.js';
import { createS3Storage } from '../../src/storage/s3.js';
import { S3StorageSchema, type ResolvedS3Storage } from '../../src/storage/storage-config.js';
import { TempDir } from '../../src/storage/temp-dir.js';
import { startFakeSts, type FakeSts } from '../helpers/fake-sts.js';
import { freshTempDir } from '../helpers/services.js';

const region = 'eu-central-1';
const base = { accessKeyId: 'AKIABASE' + randomBytes(6).toString('hex').toUpperCase(), secretAccessKey: randomBytes(30).toString('base64') };
const temp = (minutes: number) => ({
  accessKeyId: 'ASIA' + randomBytes(8).toString('hex').toUpperCase(),
  secretAccessKey: randomBytes(30).toString('base64'),
  // '+', '/' and '=' as in real session tokens: they must survive the query string.
  sessionToken: `FwoG+${randomBytes(24).toString('base64')}/=`,
  expiration: new Date(Date.now() + minutes * 60_000),
});
const roleArn = 'arn:aws:iam::123456789012:role/asset-reader';
const body = Buffer.from('delegated bytes\n');

let sts: FakeSts;
let s3: S3Server;
const current = temp(60);
const tmp = freshTempDir();
let dir: TempDir;

beforeAll(async () => {
  sts = await startFakeSts(new Map([[base.accessKeyId, base.secretAccessKey]]), region);
  // The S3 server knows only the temporary keys: a URL signed with the worker's own keys would fail.
  s3 = await startS3Server({ region, accessKeyId: current.accessKeyId, secretAccessKey: current.secretAccessKey });
  await s3.putObject('in/role.txt', body);
  dir = await TempDir.create(tmp.dir);
});

afterAll(async () => {
  await dir?.close();
  await s3?.close();
  await sts?.close();
  tmp.remove();
});

const entry = (extra: Partial<ResolvedS3Storage> = {}): ResolvedS3Storage => ({
  id: 'customer',
  kind: 's3',
  bucket: s3.bucket,
  region,
  endpoint: s3.endpoint,
  forcePathStyle: true,
  urlTtlSeconds: 60,
  credentials: base,
  roleArn,
  externalId: 'tenant-42-secret-ext',
  stsEndpoint: sts.endpoint,
  ...extra,
});

const query = (url: string) => new URL(url).searchParams;

describe('s3 with roleArn', () => {
  it('assumes the role with the ExternalId, signed by the worker’s own keys, and presigns with the temporary ones', async () => {
    sts.calls.length = 0;
    sts.answer(current);
    const storage = createS3Storage(entry());
    const { url } = await storage.sign({ assetId: 'a', key: 'in/role.txt' });

    expect(sts.calls).toHaveLength(1);
    const call = sts.calls[0]!;
    expect(call.signedBy).toBe(base.accessKeyId);
    expect(call.signatureValid).toBe(true);
    expect(call.params).toMatchObject({
      Action: 'AssumeRole',
      RoleArn: roleArn,
      ExternalId: 'tenant-42-secret-ext',
      RoleSessionName: 'asset-metadata-worker',
      DurationSeconds: '3600',
    });

    const q = query(url);
    expect(q.get('X-Amz-Credential')).toMatch(new RegExp(`^${current.accessKeyId}/\\d{8}/${region}/s3/aws4_request$`));
    expect(q.get('X-Amz-Security-Token')).toBe(current.sessionToken);
    expect(url).not.toContain(base.accessKeyId);

    const file = await createDownloader().download(url, dir, { maxBytes: 1 << 20, timeoutMs: 10_000, stallTimeoutMs: 5_000 });
    expect(await readFile(file.path)).toEqual(body);
    await dir.remove(file.path);
  });

  it('the S3 server refuses the URL when the session token is changed', async () => {
    sts.answer(current);
    const { url } = await createS3Storage(entry()).sign({ assetId: 'a', key: 'in/role.txt' });
    const u = new URL(url);
    u.searchParams.set('X-Amz-Security-Token', `${current.sessionToken}x`);
    const res = await fetch(u);
    await res.arrayBuffer();
    expect(res.status).toBe(403);
  });

  it('keeps the credentials while they last and refreshes them within 5 minutes of their end', async () => {
    sts.calls.length = 0;
    const next = temp(120);
    sts.answer(current, next);
    const storage = createS3Storage(entry());
    const keyOf = async () => query((await storage.sign({ assetId: 'a', key: 'in/role.txt' })).url).get('X-Amz-Credential')?.split('/')[0];

    expect(await keyOf()).toBe(current.accessKeyId);
    expect(await keyOf()).toBe(current.accessKeyId);
    expect(sts.calls).toHaveLength(1);
    // 56 minutes later the one-hour credentials end within the SDK's 5-minute window: the next signature
    // assumes the role again. Only Date is faked; timers and sockets run as usual.
    vi.useFakeTimers({ toFake: ['Date'] });
    try {
      vi.setSystemTime(Date.now() + 56 * 60_000);
      expect(await keyOf()).toBe(next.accessKeyId);
      expect(await keyOf()).toBe(next.accessKeyId);
    } finally {
      vi.useRealTimers();
    }
    expect(sts.calls).toHaveLength(2);
    expect(sts.calls.every((c) => c.signatureValid)).toBe(true);
  });

  it('never uses credentials that already end within 5 minutes', async () => {
    sts.calls.length = 0;
    const soon = temp(4);
    sts.answer(soon, current);
    const { url } = await createS3Storage(entry()).sign({ assetId: 'a', key: 'in/role.txt' });
    expect(query(url).get('X-Amz-Credential')).toMatch(new RegExp(`^${current.accessKeyId}/`));
    expect(sts.calls).toHaveLength(2);
  });

  it('signs concurrently with one AssumeRole call', async () => {
    sts.calls.length = 0;
    sts.answer(current);
    const storage = createS3Storage(entry());
    const urls = await Promise.all(Array.from({ length: 8 }, (_, i) => storage.sign({ assetId: `a${i}`, key: 'in/role.txt' })));
    expect(new Set(urls.map((u) => query(u.url).get('X-Amz-Credential')?.split('/')[0]))).toEqual(new Set([current.accessKeyId]));
    expect(sts.calls).toHaveLength(1);
  });

  it('a refused AssumeRole is ACCESS_DENIED, and the error names no secret', async () => {
    sts.answer({ status: 403, code: 'AccessDenied', message: `User: arn:aws:iam::111122223333:user/worker is not authorized to perform: sts:AssumeRole on resource: ${roleArn}` });
    const err = await createS3Storage(entry()).sign({ assetId: 'a', key: 'in/role.txt' }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'ACCESS_DENIED', retriable: false });
    const text = `${(err as Error).message} ${(err as Error).stack}`;
    expect(text).toMatch(/not authorized to perform: sts:AssumeRole/);
    for (const secret of [base.secretAccessKey, 'tenant-42-secret-ext']) expect(text).not.toContain(secret);
  });

  it('STS unreachable is STORAGE_UNAVAILABLE (retried later)', async () => {
    const storage = createS3Storage(entry({ stsEndpoint: 'http://127.0.0.1:9' }));
    await expect(storage.sign({ assetId: 'a', key: 'k' })).rejects.toMatchObject({ code: 'STORAGE_UNAVAILABLE', retriable: true });
  });

  it('the entry: externalId needs roleArn, and roleArn must be a role ARN', () => {
    const ok = { id: 'x', kind: 's3', bucket: 'b' };
    expect(S3StorageSchema.safeParse({ ...ok, roleArn, externalId: 'ext-1' }).success).toBe(true);
    expect(S3StorageSchema.safeParse({ ...ok, externalId: 'ext-1' }).success).toBe(false);
    expect(S3StorageSchema.safeParse({ ...ok, roleArn: 'arn:aws:iam::123456789012:user/bob' }).success).toBe(false);
  });
});
