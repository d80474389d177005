/**
 * The presigner's own URLs (s3-presign.ts) against the SDK's getSignedUrl: the same host, path and query
 * parameters, signature included, at the same signing time, for keys of every awkward kind, with and
 * without a version, path-style and virtual-hosted, with static and temporary (session token)
 * credentials. And a URL it makes is one the dev S3 server (a real SigV4 check) serves.
 */
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startS3Server, type S3Server } from '../../scripts/dev/s3-server.js';
import { createS3Presigner } from '../../src/storage/s3-presign.js';

const keys = [
  'photo.jpg',
  'dir/sub dir/a b+c.jpg',
  'ünïcödé/日本語/файл.png',
  "punct/!'()*~-_.;:@&=$,?#[]%25.bin",
  'slashes//double//and/trailing/',
  '/leading-slash.txt',
  'percent%2Fencoded%20already',
  `${'long/'.repeat(100)}end.dcm`,
  'emoji-😀.wav',
];

const configs: Array<[string, ConstructorParameters<typeof S3Client>[0], string]> = [
  ['custom endpoint, path-style', { region: 'us-east-1', endpoint: 'http://127.0.0.1:9000', forcePathStyle: true }, 'assets'],
  ['custom endpoint with a path prefix, path-style', { region: 'eu-central-1', endpoint: 'https://storage.example.com:8443', forcePathStyle: true }, 'my-bucket'],
  ['AWS, virtual-hosted', { region: 'eu-west-1' }, 'assets'],
  ['AWS us-east-1', { region: 'us-east-1' }, 'assets-2024'],
  ['AWS, a bucket with dots (path-style by the rules)', { region: 'ap-southeast-2' }, 'assets.example.com'],
];

const signingDate = new Date('2026-03-04T05:06:07Z');

function parts(url: string) {
  const u = new URL(url);
  return { origin: u.origin, path: u.pathname, query: [...u.searchParams.entries()].sort(([a], [b]) => a.localeCompare(b)) };
}

describe.each(configs)('%s', (_label, clientConfig, bucket) => {
  for (const credentials of [
    { accessKeyId: 'AKIAEXAMPLEKEY', secretAccessKey: 'example/secret+key' },
    { accessKeyId: 'ASIAEXAMPLEKEY', secretAccessKey: 'example/secret+key', sessionToken: 'token/with+odd=chars' },
  ]) {
    it(`gives the SDK's URL for every key${credentials.sessionToken ? ' (session credentials)' : ''}`, async () => {
      const client = new S3Client({ ...clientConfig, credentials });
      try {
        const presign = createS3Presigner(client, bucket, 600);
        const sdk = (key: string, versionId?: string) =>
          getSignedUrl(client, new GetObjectCommand({ Bucket: bucket, Key: key, ...(versionId ? { VersionId: versionId } : {}) }), { expiresIn: 600, signingDate });
        // The first URL comes from the SDK itself and sets the template; every later one is our own.
        expect(await presign({ key: 'first/object.jpg' }, signingDate)).toBe(await sdk('first/object.jpg'));
        expect(presign.templated()).toBe(true);
        for (const key of keys) {
          expect(parts(await presign({ key }, signingDate)), key).toEqual(parts(await sdk(key)));
          const version = 'v3/L4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY+MTRCxf3vjVBH40Nr8X8gdRQBpUMLUo';
          expect(parts(await presign({ key, versionId: version }, signingDate)), `${key} (version)`).toEqual(parts(await sdk(key, version)));
        }
      } finally {
        client.destroy();
      }
    });
  }
});

describe('against a server that checks signatures', () => {
  let s3: S3Server;
  beforeAll(async () => {
    s3 = await startS3Server();
  });
  afterAll(async () => {
    await s3?.close();
  });

  it('serves the objects whose URLs it signed, and refuses one whose key was swapped after signing', async () => {
    const client = new S3Client({
      region: s3.region, endpoint: s3.endpoint, forcePathStyle: true,
      credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
    });
    try {
      const presign = createS3Presigner(client, s3.bucket, 60);
      const objects = ['a.txt', 'dir/b c+d.txt', 'ü/日本.txt'];
      for (const key of objects) await s3.putObject(key, Buffer.from(`body of ${key}`));
      for (const key of objects) {
        const res = await fetch(await presign({ key }));
        expect(res.status, key).toBe(200);
        expect(await res.text()).toBe(`body of ${key}`);
      }
      const swapped = (await presign({ key: 'a.txt' })).replace('/a.txt?', '/dir/b%20c%2Bd.txt?');
      expect((await fetch(swapped)).status).toBe(403);
    } finally {
      client.destroy();
    }
  });
});
