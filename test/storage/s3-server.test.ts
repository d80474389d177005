import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startS3Server, type S3Server } from '../../scripts/dev/s3-server.js';
import { createSigV4Verifier } from '../../scripts/dev/sigv4-verify.js';

// 256 distinct-ish bytes, so a wrong range shows up as wrong content, not only a wrong length.
const body = Buffer.from(Array.from({ length: 256 }, (_, i) => (i * 7 + 3) % 256));
const key = 'dir/photo one+two.bin'; // a space and a plus: the path must be signed as sent

const opened: S3Server[] = [];
const clients: S3Client[] = [];
let server: S3Server;

function clientFor(s: S3Server, credentials = { accessKeyId: s.accessKeyId, secretAccessKey: s.secretAccessKey }) {
  const client = new S3Client({ endpoint: s.endpoint, region: s.region, forcePathStyle: true, credentials, maxAttempts: 1 });
  clients.push(client);
  return client;
}

function presignGet(objectKey = key, options: { expiresIn?: number; secretAccessKey?: string; accessKeyId?: string } = {}) {
  const client = clientFor(server, {
    accessKeyId: options.accessKeyId ?? server.accessKeyId,
    secretAccessKey: options.secretAccessKey ?? server.secretAccessKey,
  });
  return getSignedUrl(client, new GetObjectCommand({ Bucket: server.bucket, Key: objectKey }), {
    expiresIn: options.expiresIn ?? 60,
  });
}

/** Reads a body chunk by chunk, noting when each arrived and whether the stream broke. */
async function readChunks(response: Response) {
  const chunks: Array<{ bytes: Uint8Array; at: number }> = [];
  const reader = response.body!.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return { chunks, error: undefined };
      chunks.push({ bytes: value, at: Date.now() });
    }
  } catch (error) {
    return { chunks, error };
  }
}

async function errorCode(response: Response): Promise<string | undefined> {
  return /<Code>([^<]+)<\/Code>/.exec(await response.text())?.[1];
}

beforeAll(async () => {
  server = await startS3Server();
  opened.push(server);
  await server.putObject(key, body);
});

afterAll(async () => {
  for (const client of clients) client.destroy();
  await Promise.all(opened.map((s) => s.close().catch(() => undefined)));
});

describe('startS3Server: presigned GET', () => {
  it('serves a correctly presigned URL', async () => {
    const response = await fetch(await presignGet());
    expect(response.status).toBe(200);
    expect(Buffer.from(await response.arrayBuffer())).toEqual(body);
  });

  it('refuses a URL with one character of the signature changed', async () => {
    const url = new URL(await presignGet());
    const signature = url.searchParams.get('X-Amz-Signature')!;
    const flipped = (signature[0] === 'a' ? 'b' : 'a') + signature.slice(1);
    url.searchParams.set('X-Amz-Signature', flipped);
    const response = await fetch(url);
    expect(response.status).toBe(403);
    expect(await errorCode(response)).toBe('SignatureDoesNotMatch');
  });

  it('refuses a URL signed with a wrong secret', async () => {
    const response = await fetch(await presignGet(key, { secretAccessKey: `${server.secretAccessKey}x` }));
    expect(response.status).toBe(403);
    expect(await errorCode(response)).toBe('SignatureDoesNotMatch');
  });

  it('refuses an unknown access key', async () => {
    const response = await fetch(await presignGet(key, { accessKeyId: 'AKNOTAKEY' }));
    expect(response.status).toBe(403);
    expect(await errorCode(response)).toBe('InvalidAccessKeyId');
  });

  it('refuses a URL whose X-Amz-Expires was edited', async () => {
    const url = new URL(await presignGet(key, { expiresIn: 60 }));
    url.searchParams.set('X-Amz-Expires', '3600');
    const response = await fetch(url);
    expect(response.status).toBe(403);
    expect(await errorCode(response)).toBe('SignatureDoesNotMatch');
  });

  it('refuses a URL after it expired', async () => {
    const url = await presignGet(key, { expiresIn: 1 });
    await sleep(2_000);
    const response = await fetch(url);
    expect(response.status).toBe(403);
    const text = await response.text();
    expect(text).toContain('<Code>AccessDenied</Code>');
    expect(text).toContain('Request has expired');
  });

  it('refuses an unsigned request', async () => {
    const response = await fetch(`${server.endpoint}/${server.bucket}/${encodeURI(key)}`);
    expect(response.status).toBe(403);
    expect(await errorCode(response)).toBe('AccessDenied');
  });

  it('answers 404 NoSuchKey for a missing key', async () => {
    const response = await fetch(await presignGet('no/such/key.bin'));
    expect(response.status).toBe(404);
    expect(await errorCode(response)).toBe('NoSuchKey');
  });
});

describe('startS3Server: ranges', () => {
  it('answers bytes=0-9 with 206 and the first 10 bytes', async () => {
    const response = await fetch(await presignGet(), { headers: { range: 'bytes=0-9' } });
    expect(response.status).toBe(206);
    expect(response.headers.get('content-range')).toBe(`bytes 0-9/${body.length}`);
    expect(Buffer.from(await response.arrayBuffer())).toEqual(body.subarray(0, 10));
  });

  it('answers a range of an empty object with 416 at once, as S3 does', async () => {
    await server.putObject('empty.bin', Buffer.alloc(0));
    const response = await fetch(await presignGet('empty.bin'), { headers: { range: 'bytes=0-65535' } });
    expect(response.status).toBe(416);
    expect(await errorCode(response)).toBe('InvalidRange');
    const whole = await fetch(await presignGet('empty.bin'));
    expect(whole.status).toBe(200);
    expect((await whole.arrayBuffer()).byteLength).toBe(0);
  });

  it('answers a suffix range with the last N bytes', async () => {
    const response = await fetch(await presignGet(), { headers: { range: 'bytes=-7' } });
    expect(response.status).toBe(206);
    expect(response.headers.get('content-range')).toBe(`bytes ${body.length - 7}-${body.length - 1}/${body.length}`);
    expect(Buffer.from(await response.arrayBuffer())).toEqual(body.subarray(body.length - 7));
    expect(server.requests.at(-1)).toMatchObject({ method: 'GET', range: 'bytes=-7', status: 206, bytesSent: 7 });
  });

  it('answers a suffix longer than the object with the whole object', async () => {
    const response = await fetch(await presignGet(), { headers: { range: 'bytes=-1000' } });
    expect(response.status).toBe(206);
    expect(Buffer.from(await response.arrayBuffer())).toEqual(body);
  });
});

describe('startS3Server: header-signed requests (AWS SDK)', () => {
  it('accepts a PutObject signed with the right secret and serves the object back', async () => {
    await server.putObject('written.txt', 'hello');
    const response = await fetch(await presignGet('written.txt'));
    expect(await response.text()).toBe('hello');
    await server.deleteObject('written.txt');
    expect((await fetch(await presignGet('written.txt'))).status).toBe(404);
  });

  it('refuses a PutObject signed with a wrong secret', async () => {
    const client = clientFor(server, { accessKeyId: server.accessKeyId, secretAccessKey: 'wrong-secret' });
    const put = client.send(new PutObjectCommand({ Bucket: server.bucket, Key: 'forged.txt', Body: 'x' }));
    await expect(put).rejects.toMatchObject({ name: 'SignatureDoesNotMatch', $metadata: { httpStatusCode: 403 } });
    expect((await fetch(await presignGet('forged.txt'))).status).toBe(404);
  });

  it('refuses a request signed for another region', async () => {
    const client = new S3Client({
      endpoint: server.endpoint,
      region: 'eu-west-1',
      forcePathStyle: true,
      credentials: { accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey },
      maxAttempts: 1,
    });
    clients.push(client);
    const put = client.send(new PutObjectCommand({ Bucket: server.bucket, Key: 'elsewhere.txt', Body: 'x' }));
    await expect(put).rejects.toMatchObject({ $metadata: { httpStatusCode: 400 } });
  });

  it('accepts a presigned PUT', async () => {
    const client = clientFor(server);
    const url = await getSignedUrl(client, new PutObjectCommand({ Bucket: server.bucket, Key: 'up.txt' }), { expiresIn: 60 });
    expect((await fetch(url, { method: 'PUT', body: 'uploaded' })).status).toBe(200);
    expect(await (await fetch(await presignGet('up.txt'))).text()).toBe('uploaded');
  });
});

describe('createSigV4Verifier: its own clock checks (s3rver would also refuse an expired URL)', () => {
  const signedAt = new Date('2024-03-01T12:00:00Z');
  const keys = new Map([['AKCLOCK', 'clock-secret']]);
  const client = new S3Client({
    endpoint: 'http://127.0.0.1:9',
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: 'AKCLOCK', secretAccessKey: 'clock-secret' },
  });
  clients.push(client);
  const atOffset = async (offsetMs: number, expiresIn: number) => {
    const url = new URL(await getSignedUrl(client, new GetObjectCommand({ Bucket: 'b', Key: 'k' }), { expiresIn, signingDate: signedAt }));
    const verify = await createSigV4Verifier({ keys, region: 'us-east-1', now: () => signedAt.getTime() + offsetMs });
    return verify({ method: 'GET', url: url.pathname + url.search, headers: { host: url.host } });
  };

  it('accepts a URL within its lifetime', async () => {
    expect(await atOffset(59_000, 60)).toBeUndefined();
  });

  it('refuses it once the lifetime is over', async () => {
    expect(await atOffset(61_000, 60)).toEqual({ status: 403, code: 'AccessDenied', message: 'Request has expired' });
  });

  it('refuses a URL dated far in the future', async () => {
    expect(await atOffset(-3_600_000, 60)).toMatchObject({ status: 403, code: 'AccessDenied' });
  });

  it('refuses a lifetime over seven days before checking anything else', async () => {
    const url = new URL(await getSignedUrl(client, new GetObjectCommand({ Bucket: 'b', Key: 'k' }), { signingDate: signedAt }));
    url.searchParams.set('X-Amz-Expires', String(8 * 24 * 3600));
    const verify = await createSigV4Verifier({ keys, region: 'us-east-1', now: () => signedAt.getTime() });
    const refusal = await verify({ method: 'GET', url: url.pathname + url.search, headers: { host: url.host } });
    expect(refusal).toMatchObject({ status: 400, code: 'AuthorizationQueryParametersError' });
  });
});

describe('startS3Server: faults and the request log', () => {
  it('logs the path without the query string', async () => {
    const url = await presignGet();
    await (await fetch(url, { headers: { range: 'bytes=5-6' } })).arrayBuffer();
    const entry = server.requests.at(-1)!;
    expect(entry).toEqual({ method: 'GET', path: new URL(url).pathname, range: 'bytes=5-6', status: 206, bytesSent: 2 });
    expect(entry.path).not.toContain('?');
  });

  it('failNext 503 fails once, then serves', async () => {
    const url = await presignGet();
    server.failNext({ status: 503 });
    const failed = await fetch(url);
    expect(failed.status).toBe(503);
    expect(await errorCode(failed)).toBe('SlowDown');
    const ok = await fetch(url);
    expect(ok.status).toBe(200);
    expect(Buffer.from(await ok.arrayBuffer())).toEqual(body);
    expect(server.requests.slice(-2).map((r) => r.status)).toEqual([503, 200]);
  });

  it('failNext 500 with a count fails that many requests', async () => {
    const url = await presignGet();
    server.failNext({ status: 500, count: 2 });
    const statuses = [];
    for (let i = 0; i < 3; i++) statuses.push((await fetch(url)).status);
    expect(statuses).toEqual([500, 500, 200]);
  });

  it('does not spend a fault on a request with a bad signature', async () => {
    const url = new URL(await presignGet());
    server.failNext({ status: 503 });
    url.searchParams.set('X-Amz-Expires', '61');
    expect((await fetch(url)).status).toBe(403);
    expect((await fetch(await presignGet())).status).toBe(503);
  });

  it('resetAfterBytes cuts the body after that many bytes', async () => {
    server.failNext({ resetAfterBytes: 100 });
    const response = await fetch(await presignGet());
    expect(response.status).toBe(200);
    const { chunks, error } = await readChunks(response);
    expect(error).toBeDefined();
    expect(Buffer.concat(chunks.map((c) => c.bytes))).toEqual(body.subarray(0, 100));
    expect(server.requests.at(-1)).toMatchObject({ status: 200, bytesSent: 100 });
  });

  it('stallAfterBytes sends that many bytes, pauses, then completes the body', async () => {
    server.failNext({ stallAfterBytes: 50, stallMs: 600 });
    const started = Date.now();
    const { chunks, error } = await readChunks(await fetch(await presignGet()));
    expect(error).toBeUndefined();
    expect(Buffer.concat(chunks.map((c) => c.bytes))).toEqual(body);
    expect(chunks[0]!.bytes.length).toBe(50);
    expect(chunks[0]!.at - started).toBeLessThan(400);
    expect(chunks.at(-1)!.at - started).toBeGreaterThanOrEqual(550);
  });

  it('delayMs delays the response', async () => {
    server.failNext({ delayMs: 400 });
    const started = Date.now();
    const response = await fetch(await presignGet());
    expect(response.status).toBe(200);
    await response.arrayBuffer();
    expect(Date.now() - started).toBeGreaterThanOrEqual(350);
  });
});

describe('startS3Server: ListObjectsV2 (s3rver alone answers a truncated listing with 500)', () => {
  // Keys in the order S3 lists them (UTF-8 binary order); two need escaping in XML or in a URL.
  const keys = ['a/1.txt', 'a/2 & <3>.txt', 'b.txt', 'c/e.txt'];
  let listed: S3Server;
  let client: S3Client;

  beforeAll(async () => {
    listed = await startS3Server({ buckets: ['listing'] });
    opened.push(listed);
    for (const k of keys) await listed.putObject(k, k);
    client = clientFor(listed);
  });

  const page = (input: { MaxKeys?: number; ContinuationToken?: string; StartAfter?: string; Prefix?: string; Delimiter?: string }) =>
    client.send(new ListObjectsV2Command({ Bucket: 'listing', ...input }));

  it('MaxKeys 1 gives the first key, a continuation token, and KeyCount 1', async () => {
    const first = await page({ MaxKeys: 1 });
    expect(first.Contents?.map((o) => o.Key)).toEqual(['a/1.txt']);
    expect(first.KeyCount).toBe(1);
    expect(first.IsTruncated).toBe(true);
    expect(first.NextContinuationToken).toBeTruthy();
  });

  it('pages through every key by continuation token, each once, in order', async () => {
    const seen: string[] = [];
    let token: string | undefined;
    let pages = 0;
    do {
      const reply = await page({ MaxKeys: 1, ...(token ? { ContinuationToken: token } : {}) });
      seen.push(...(reply.Contents ?? []).map((o) => o.Key!));
      expect(reply.ContinuationToken).toBe(token);
      token = reply.NextContinuationToken;
      pages++;
    } while (token && pages < 10);
    expect(seen).toEqual(keys);
    expect(pages).toBe(4);
  });

  it('honours StartAfter, Prefix and Delimiter', async () => {
    expect((await page({ StartAfter: 'a/2 & <3>.txt' })).Contents?.map((o) => o.Key)).toEqual(['b.txt', 'c/e.txt']);
    expect((await page({ Prefix: 'a/' })).Contents?.map((o) => o.Key)).toEqual(['a/1.txt', 'a/2 & <3>.txt']);
    const top = await page({ Delimiter: '/' });
    expect(top.Contents?.map((o) => o.Key)).toEqual(['b.txt']);
    expect(top.CommonPrefixes?.map((p) => p.Prefix)).toEqual(['a/', 'c/']);
    expect(top.IsTruncated).toBe(false);
    expect(top.NextContinuationToken).toBeUndefined();
  });

  it('a listing of an empty prefix is empty, not an error', async () => {
    const none = await page({ Prefix: 'nothing/', MaxKeys: 1 });
    expect([none.KeyCount, none.Contents, none.IsTruncated]).toEqual([0, undefined, false]);
  });
});

describe('startS3Server: lifecycle', () => {
  it('uses the given credentials, region and buckets', async () => {
    const custom = await startS3Server({
      accessKeyId: 'AKCUSTOM',
      secretAccessKey: 'custom-secret',
      region: 'eu-west-1',
      buckets: ['first', 'second'],
    });
    opened.push(custom);
    expect(custom).toMatchObject({ accessKeyId: 'AKCUSTOM', region: 'eu-west-1', bucket: 'first' });
    await custom.putObject('k', 'in second', 'second');
    const url = await getSignedUrl(clientFor(custom), new GetObjectCommand({ Bucket: 'second', Key: 'k' }));
    expect(await (await fetch(url)).text()).toBe('in second');
  });

  it('listens on the port asked for; a port in use fails the start', async () => {
    const free = createServer();
    await new Promise<void>((resolve) => free.listen(0, '127.0.0.1', resolve));
    const port = (free.address() as { port: number }).port;
    await new Promise((resolve) => free.close(resolve));
    const fixed = await startS3Server({ port });
    opened.push(fixed);
    expect(fixed.endpoint).toBe(`http://127.0.0.1:${port}`);
    await expect(startS3Server({ port })).rejects.toMatchObject({ code: 'EADDRINUSE' });
  });

  it('close() frees the port and removes the data directory', async () => {
    const temporary = await startS3Server();
    opened.push(temporary);
    const port = Number(new URL(temporary.endpoint).port);
    expect(existsSync(temporary.directory)).toBe(true);
    await temporary.close();
    expect(existsSync(temporary.directory)).toBe(false);
    await expect(fetch(temporary.endpoint)).rejects.toThrow();
    const probe = createServer();
    await new Promise<void>((resolve, reject) => probe.once('error', reject).listen(port, '127.0.0.1', resolve));
    await new Promise((resolve) => probe.close(resolve));
  });
});
