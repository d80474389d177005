/**
 * `s3` URLs for keys of every awkward kind, signed by the storage and fetched through the development S3
 * server, which recomputes every SigV4 signature (scripts/dev/sigv4-verify.ts): with and without a
 * version, with static and session credentials. A URL whose key or token is changed after signing is
 * refused. Virtual-hosted addressing (AWS itself, not run here) is checked for its host and path only.
 * The storage presigns as the SDK's getSignedUrl does, its first request of a storage kept as a template
 * for the keys after it: the URLs are compared with getSignedUrl's own, at one frozen moment, byte for
 * byte, for the awkward keys and for random ones, whichever key comes first.
 */
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startS3Server, type S3Server } from '../../scripts/dev/s3-server.js';
import { createS3Storage } from '../../src/storage/s3.js';
import type { ResolvedS3Storage } from '../../src/storage/storage-config.js';

const keys = [
  'photo.jpg',
  'dir/sub dir/a b+c.jpg',
  'ünïcödé/日本語/файл.png',
  "punct/!'()*~-_.;:@&=$,?#[]%25.bin",
  'percent%2Fencoded%20already',
  'plus+and%percent',
  `${'long/'.repeat(100)}end.dcm`,
  'emoji-😀.wav',
];

/** Keys S3 accepts but a path may not like: kept out of the server test (s3rver stores them as files). */
const oddKeys = ['/leading/slash', 'double//slash', 'trailing/', './dot', '../dot-dot/..', 'tab\tand\nnewline', '   ', `${'é'.repeat(511)}x`];

/** 300 keys drawn from the characters that escaping treats differently, by a seeded generator (the same each run). */
function randomKeys(): string[] {
  let seed = 0x2545f491;
  const next = () => (seed = (Math.imul(seed, 1_103_515_245) + 12_345) >>> 0) / 2 ** 32;
  const alphabet = [..."aZ09-_.~/ !'()*+%&=?#:;@$,[]{}|\\^`\"<>\u0001\u007fäß日😀\u00a0"];
  return Array.from({ length: 300 }, () => Array.from({ length: 1 + Math.floor(next() * 24) }, () => alphabet[Math.floor(next() * alphabet.length)]).join(''));
}

let s3: S3Server;
beforeAll(async () => {
  s3 = await startS3Server({ region: 'eu-central-1' });
  for (const key of keys) await s3.putObject(key, Buffer.from(`body of ${key}`));
});
afterAll(async () => {
  await s3?.close();
});

const entry = (extra: Partial<ResolvedS3Storage> = {}): ResolvedS3Storage => ({
  id: 's3', kind: 's3', bucket: s3.bucket, region: s3.region, endpoint: s3.endpoint, forcePathStyle: true, urlTtlSeconds: 60,
  credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
  ...extra,
});

async function get(url: string): Promise<{ status: number; text: string }> {
  const res = await fetch(url);
  return { status: res.status, text: await res.text() };
}

describe('s3 presigned URLs against a server that checks signatures', () => {
  it('serves every awkward key by its signed URL, for the URL lifetime configured', async () => {
    const storage = createS3Storage(entry());
    for (const key of keys) {
      const { url, expiresAt } = await storage.sign({ assetId: 'a', key });
      expect(await get(url), key).toEqual({ status: 200, text: `body of ${key}` });
      expect(new URL(url).searchParams.get('X-Amz-Expires')).toBe('60');
      expect(expiresAt!.getTime()).toBeGreaterThan(Date.now() + 55_000);
    }
  });

  it('a version id is signed into the URL: changing it after signing is refused', async () => {
    const storage = createS3Storage(entry());
    const { url } = await storage.sign({ assetId: 'a', key: 'photo.jpg', versionId: 'v3/L4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY+MTRCxf3vjVBH40Nr8X8gdRQBpUMLUo' });
    const u = new URL(url);
    expect(u.searchParams.get('versionId')).toBe('v3/L4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY+MTRCxf3vjVBH40Nr8X8gdRQBpUMLUo');
    u.searchParams.set('versionId', 'other');
    expect((await get(u.href)).status).toBe(403);
  });

  it('session credentials: the token travels in the signed query; a changed token or swapped key is refused', async () => {
    const sessionToken = 'token/with+odd=chars';
    const storage = createS3Storage(entry({ credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey, sessionToken } as ResolvedS3Storage['credentials'] }));
    const { url } = await storage.sign({ assetId: 'a', key: 'dir/sub dir/a b+c.jpg' });
    expect(new URL(url).searchParams.get('X-Amz-Security-Token')).toBe(sessionToken);
    expect(await get(url)).toEqual({ status: 200, text: 'body of dir/sub dir/a b+c.jpg' });

    const tampered = new URL(url);
    tampered.searchParams.set('X-Amz-Security-Token', `${sessionToken}x`);
    expect((await get(tampered.href)).status).toBe(403);
    const swapped = url.replace('/dir/sub%20dir/a%20b%2Bc.jpg?', '/photo.jpg?');
    expect(swapped).not.toBe(url);
    expect((await get(swapped)).status).toBe(403);
  });

  it('a URL signed with a secret the server does not know is refused', async () => {
    const storage = createS3Storage(entry({ credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: 'not-the-secret' } }));
    expect((await get((await storage.sign({ assetId: 'a', key: 'photo.jpg' })).url)).status).toBe(403);
  });
});

describe('virtual-hosted addressing (AWS)', () => {
  it('puts the bucket in the host and the encoded key in the path', async () => {
    const storage = createS3Storage({
      id: 'aws', kind: 's3', bucket: 'assets', region: 'eu-west-1', forcePathStyle: false, urlTtlSeconds: 300,
      credentials: { accessKeyId: 'AKIAEXAMPLEKEY', secretAccessKey: 'example/secret+key' },
    });
    const u = new URL((await storage.sign({ assetId: 'a', key: 'dir/a b+c.jpg' })).url);
    expect(u.host).toBe('assets.s3.eu-west-1.amazonaws.com');
    expect(u.pathname).toBe('/dir/a%20b%2Bc.jpg');
    expect(u.searchParams.get('X-Amz-Credential')).toMatch(/^AKIAEXAMPLEKEY\/\d{8}\/eu-west-1\/s3\/aws4_request$/);
  });
});

describe('the same URLs as getSignedUrl', () => {
  const cases: [string, Partial<ResolvedS3Storage>][] = [
    ['path-style, a custom endpoint', { endpoint: 'http://127.0.0.1:9000', forcePathStyle: true, region: 'eu-central-1' }],
    ['virtual-hosted, AWS', { forcePathStyle: false, region: 'eu-west-1' }],
    ['session credentials', { forcePathStyle: false, region: 'us-east-1', credentials: { accessKeyId: 'ASIAEXAMPLE', secretAccessKey: 's/k+', sessionToken: 'tok/en+=' } as ResolvedS3Storage['credentials'] }],
  ];
  const signedAlike = async (name: string, extra: Partial<ResolvedS3Storage>, order: string[], versions = [undefined, 'v3/L4kq+x=']) => {
    const config: ResolvedS3Storage = {
      id: 'x', kind: 's3', bucket: 'assets', forcePathStyle: false, region: 'us-east-1', urlTtlSeconds: 300,
      credentials: { accessKeyId: 'AKIAEXAMPLEKEY', secretAccessKey: 'example/secret+key' }, ...extra,
    };
    const storage = createS3Storage(config);
    const sdk = new S3Client({ region: config.region, forcePathStyle: config.forcePathStyle, credentials: config.credentials!, ...(config.endpoint ? { endpoint: config.endpoint } : {}) });
    vi.useFakeTimers({ toFake: ['Date'], now: new Date('2026-03-01T12:34:56Z') });
    try {
      for (const key of order) {
        for (const versionId of versions) {
          const expected = await getSignedUrl(sdk, new GetObjectCommand({ Bucket: 'assets', Key: key, ...(versionId ? { VersionId: versionId } : {}) }), { expiresIn: 300 });
          const { url } = await storage.sign({ assetId: 'a', key, ...(versionId ? { versionId } : {}) });
          expect(url, `${name}: ${JSON.stringify(key)}`).toBe(expected);
          expect(url).toContain('X-Amz-Date=20260301T123456Z');
        }
      }
    } finally {
      vi.useRealTimers();
    }
  };
  for (const [name, extra] of cases) {
    it(`${name}: every awkward and random key, with and without a version`, async () => {
      await signedAlike(name, extra, [...keys, ...oddKeys, ...randomKeys()]);
    });
  }
  it('whichever key a storage signs first, with or without a version', async () => {
    for (const first of [...oddKeys, "punct/!'()*~-_.;:@&=$,?#[]%25.bin"]) {
      await signedAlike('first', cases[0]![1], [first, ...keys]);
      await signedAlike('first, versioned', cases[0]![1], [first, ...keys], ['v3/L4kq+x=', undefined]);
    }
  });
  it("only a storage's first URL runs through the SDK's middleware", async () => {
    const send = vi.spyOn(S3Client.prototype, 'send');
    try {
      const storage = createS3Storage({ id: 'x', kind: 's3', bucket: 'assets', forcePathStyle: false, region: 'eu-west-1', urlTtlSeconds: 300, credentials: { accessKeyId: 'AKIAEXAMPLEKEY', secretAccessKey: 'k' } });
      for (const key of keys) await storage.sign({ assetId: 'a', key, versionId: 'v1' });
      expect(send).toHaveBeenCalledTimes(1);
    } finally {
      send.mockRestore();
    }
  });
});
