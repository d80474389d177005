/**
 * How stores and servers behave, against the real download and ranged-read code: empty objects, objects
 * replaced between ranges, weak ETags, short 206s, throttling, redirects and encoded bodies. Each server
 * is a scripted loopback server (test/helpers/object-server.ts); expected bytes and hashes come from the
 * objects the tests make.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { extractFile } from '../../src/extractors/extract-file.js';
import { processAsset } from '../../src/pipeline.js';
import { createDownloader, type DownloadLimits } from '../../src/storage/download.js';
import { fetchForExtraction, type FetchedFile } from '../../src/storage/ranged/ranged-read.js';
import { createSignerStorage } from '../../src/storage/signer.js';
import { TempDir } from '../../src/storage/temp-dir.js';
import { firstThrottleWaitMs, maxRedirects, maxRetryAfterMs, maxThrottleWaits, parseRetryAfter } from '../../src/storage/http-get.js';
import { testExtractConfig } from '../helpers/fixtures.js';
import { answerObject, patterned, smallWav, startObjectServer, type ObjectServer, type StoredObject } from '../helpers/object-server.js';
import { freshTempDir } from '../helpers/services.js';

const tmp = freshTempDir();
let temp: TempDir;
let server: ObjectServer;
let other: ObjectServer;
const downloader = createDownloader();
const limits: DownloadLimits = { maxBytes: 10_000_000, timeoutMs: 10_000, stallTimeoutMs: 2_000 };
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const emptySha = sha(Buffer.alloc(0));
/** A 512-byte first range, so that small objects take every path a large one does. */
const fetch = (path: string, minBytes = 16 * 1024 * 1024, overrides: Partial<DownloadLimits> = {}) =>
  fetchForExtraction(downloader, `${server.origin}${path}?X-Amz-Signature=topsecret`, temp, { ...limits, ...overrides }, minBytes, 512);

/** Reads the fetched file back and removes it. */
async function take(file: FetchedFile): Promise<Buffer> {
  try {
    return readFileSync(file.path);
  } finally {
    await temp.remove(file.path);
  }
}

beforeAll(async () => {
  temp = await TempDir.create(tmp.dir);
  [server, other] = await Promise.all([startObjectServer(), startObjectServer()]);
});

afterAll(async () => {
  await downloader.close();
  await Promise.all([server?.close(), other?.close()]);
  await temp?.close();
  tmp.remove();
});

afterEach(() => {
  expect(tmp.files()).toEqual([]);
  server.requests.length = 0;
  other.requests.length = 0;
});

describe('an empty object is a final answer at once', () => {
  it('416 with `bytes */0` (what S3, Azure and GCS answer): a 0-byte file after one request', async () => {
    server.handle = (req, res) => answerObject(req, res, { body: Buffer.alloc(0), etag: '"e"' });
    const file = await fetch('/empty', 0);
    expect([file.sizeBytes, file.sha256, file.sha256Scope]).toEqual([0, emptySha, 'full']);
    expect((await take(file)).length).toBe(0);
    expect(server.requests).toHaveLength(1);
  });

  it('206 `bytes 0-0/0` with a body that never comes (s3rver, and proxies in front of it): answered before the stall timeout', async () => {
    server.handle = (_req, res) => {
      res.writeHead(206, { 'content-range': 'bytes 0-0/0', 'content-length': 1 });
      res.flushHeaders();
    };
    const started = Date.now();
    const file = await fetch('/empty', 0);
    expect(Date.now() - started).toBeLessThan(limits.stallTimeoutMs / 2);
    expect([file.sizeBytes, file.sha256]).toEqual([0, emptySha]);
    await take(file);
  });

  it('through the pipeline it ends UNSUPPORTED_TYPE "empty file", not retried, as a local empty file does', async () => {
    server.handle = (req, res) => {
      if (req.method === 'POST') return void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ url: `${server.origin}/empty` }));
      answerObject(req, res, { body: Buffer.alloc(0) });
    };
    const signer = createSignerStorage({ id: 'signer', kind: 'signer', url: `${server.origin}/sign`, timeoutMs: 2_000 });
    const result = await processAsset({ assetId: 'empty', source: { type: 'storage', storageId: 'signer', key: 'empty' } }, {
      storages: () => signer, signedDownloader: downloader, urlDownloader: downloader, temp, limits, extractConfig: testExtractConfig(), extract: extractFile,
    });
    expect(result).toMatchObject({ status: 'failed', sizeBytes: 0, sha256: emptySha, error: { code: 'UNSUPPORTED_TYPE', message: 'empty file', retriable: false } });
  });
});

describe('one version of the object, or none', () => {
  const v1 = patterned(3000, 1);
  const v2 = patterned(3000, 2);
  /** Serves v1 to the first request and v2 after it, ignoring If-Match (as some stores and caches do). */
  const replacedAfterFirst = (a: StoredObject, b: StoredObject) => {
    server.handle = (req, res, n) => answerObject(req, res, n === 0 ? a : b, { ifMatch: 'ignore' });
  };

  it.each([
    ['the ETag changes', { etag: '"v1"' }, { etag: '"v2"' }, /ETag differs/],
    ['no ETag, Last-Modified changes', { lastModified: 'Mon, 01 Jun 2026 10:00:00 GMT' }, { lastModified: 'Mon, 01 Jun 2026 10:00:05 GMT' }, /Last-Modified differs/],
  ] as const)('%s: a retriable "object changed", never a file of two versions', async (_label, a, b, why) => {
    replacedAfterFirst({ body: v1, ...a }, { body: v2, ...b });
    const err = await fetch('/obj').catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'STORAGE_UNAVAILABLE', retriable: true, message: expect.stringMatching(/object changed/) });
    expect((err as Error).message).toMatch(why);
    expect((err as Error).message).not.toContain('topsecret');
    // The next attempt reads one version.
    server.handle = (req, res) => answerObject(req, res, { body: v2, ...b });
    const file = await fetch('/obj');
    expect(file.sha256).toBe(sha(v2));
    await take(file);
  });

  it('the same Last-Modified but another size: "object changed"', async () => {
    const lastModified = 'Mon, 01 Jun 2026 10:00:00 GMT';
    replacedAfterFirst({ body: v1, lastModified }, { body: patterned(4000, 2), lastModified });
    await expect(fetch('/obj')).rejects.toMatchObject({ code: 'STORAGE_UNAVAILABLE', message: expect.stringMatching(/object changed.*size went from 3000 to 4000/) });
  });

  it('no validators at all: nothing could tell two versions apart, so the object is read in one plain GET', async () => {
    replacedAfterFirst({ body: v1 }, { body: v2 });
    const file = await fetch('/obj');
    expect(file.sha256).toBe(sha(v2));
    await take(file);
    expect(server.requests.map((r) => r.range)).toEqual(['bytes=0-511', undefined]);
  });

  it('a planned read (WAV by ranges) meeting a new version mid-way: "object changed"', async () => {
    const wav = smallWav(20_000);
    const wav2 = Buffer.from(wav);
    wav2.write('LIST', wav.length - 26);
    server.handle = (req, res, n) => answerObject(req, res, { body: n < 1 ? wav : wav2, etag: n < 1 ? '"a"' : '"b"' }, { ifMatch: 'ignore' });
    await expect(fetch('/a.wav', 0)).rejects.toMatchObject({ code: 'STORAGE_UNAVAILABLE', message: expect.stringMatching(/object changed/) });
  });
});

describe('weak ETags', () => {
  const body = patterned(3000, 3);

  it('a weak ETag is never sent in If-Match: a store that compares strongly reads the object', async () => {
    server.handle = (req, res) => answerObject(req, res, { body, etag: 'W/"weak-1"' }, { ifMatch: 'strong' });
    const file = await fetch('/weak');
    expect(file.sha256).toBe(sha(body));
    expect(await take(file)).toEqual(body);
    expect(server.requests.map((r) => [r.range, r.ifMatch])).toEqual([['bytes=0-511', undefined], ['bytes=512-', undefined]]);
  });

  it('a strong ETag is sent in If-Match on every request after the first', async () => {
    server.handle = (req, res) => answerObject(req, res, { body, etag: '"strong-1"' }, { ifMatch: 'strong' });
    await take(await fetch('/strong'));
    expect(server.requests.map((r) => r.ifMatch)).toEqual([undefined, '"strong-1"']);
  });
});

describe('short 206 replies (RFC 9110 §15.3.7)', () => {
  it('a store that sends at most 700 bytes a reply: the rest is asked for, the file is whole', async () => {
    const body = patterned(5000, 4);
    server.handle = (req, res) => answerObject(req, res, { body, etag: '"s"' }, { maxReplyBytes: 700 });
    const file = await fetch('/short');
    expect([file.sizeBytes, file.sha256, file.sha256Scope]).toEqual([5000, sha(body), 'full']);
    await take(file);
    // 0-511 whole (under 700), then 512-, 1212-, ... each from where the last reply ended.
    expect(server.requests.map((r) => r.range)).toEqual(['bytes=0-511', ...[512, 1212, 1912, 2612, 3312, 4012, 4712].map((s) => `bytes=${s}-`)]);
  });

  it('short replies in a planned read: the spans are completed, the result is partial and right', async () => {
    const wav = smallWav(200_000);
    server.handle = (req, res) => answerObject(req, res, { body: wav, etag: '"w"' }, { maxReplyBytes: 100 });
    const file = await fetch('/short.wav', 0);
    expect(file.sha256Scope).toBe('partial');
    const got = await take(file);
    // The header and the LIST chunk after the data are held: the first 512 bytes, and the last 26.
    expect(got.subarray(0, 512)).toEqual(wav.subarray(0, 512));
    expect(got.subarray(-26)).toEqual(wav.subarray(-26));
    expect(server.requests.every((r) => r.range !== undefined)).toBe(true);
  });
});

describe('throttling (429, 503 SlowDown)', () => {
  const body = patterned(2000, 5);

  it('Retry-After in both of RFC 9110’s forms, bounded; anything else is no Retry-After', () => {
    const now = Date.parse('2026-12-04T00:00:00Z');
    expect(parseRetryAfter('30', now)).toBe(30_000);
    expect(parseRetryAfter(' 0 ', now)).toBe(0);
    expect(parseRetryAfter('Fri, 04 Dec 2026 00:00:02 GMT', now)).toBe(2_000);
    expect(parseRetryAfter('Thu, 03 Dec 2026 23:00:00 GMT', now)).toBe(0);
    expect(parseRetryAfter('9999999999', now)).toBe(maxRetryAfterMs);
    for (const bad of ['soon', '1.5', '-3', '', undefined, ['1', '2'], `${'x'.repeat(100)} GMT`]) expect(parseRetryAfter(bad, now)).toBeUndefined();
  });

  it('Retry-After: 1 is waited out inside the download, then the object is read', async () => {
    server.handle = (req, res, n) => {
      if (n < 2) return void res.writeHead(429, { 'retry-after': '1' }).end('slow down');
      answerObject(req, res, { body });
    };
    const file = await fetch('/t');
    expect(file.sha256).toBe(sha(body));
    await take(file);
    const at = server.requests.map((r) => r.at);
    expect(at[1]! - at[0]!).toBeGreaterThanOrEqual(950);
    expect(at[2]! - at[1]!).toBeGreaterThanOrEqual(950);
  });

  it('Retry-After: 30 past the download’s total time: throttled at once, with the wait asked for', async () => {
    server.handle = (_req, res) => void res.writeHead(503, { 'retry-after': '30' }).end();
    const started = Date.now();
    const err = await fetch('/t', undefined, { timeoutMs: 3_000 }).catch((e: unknown) => e);
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(err).toMatchObject({ code: 'STORAGE_UNAVAILABLE', retriable: true, retryAfterMs: 30_000, message: expect.stringMatching(/throttled.*HTTP 503/) });
    expect(server.requests).toHaveLength(1);
  });

  it(`503 without Retry-After every time: ${maxThrottleWaits} growing waits, then an error that says throttled`, async () => {
    server.handle = (_req, res) => void res.writeHead(503).end();
    const err = await downloader.download(`${server.origin}/t`, temp, limits).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'STORAGE_UNAVAILABLE', message: expect.stringMatching(/throttled the download \(HTTP 503, after 4 waits\)/) });
    const at = server.requests.map((r) => r.at);
    expect(at).toHaveLength(maxThrottleWaits + 1);
    for (let i = 1; i < at.length; i++) expect(at[i]! - at[i - 1]!).toBeGreaterThanOrEqual(firstThrottleWaitMs * 2 ** (i - 1) - 20);
  });
});

describe('redirects', () => {
  it('a store that redirects every request to another host: followed for each range, the read stays ranged', async () => {
    const wav = smallWav(200_000);
    server.handle = (req, res) => void res.writeHead(302, { location: `${other.origin}${req.url}` }).end();
    other.handle = (req, res) => answerObject(req, res, { body: wav, etag: '"r"' });
    const file = await fetch('/r.wav', 0);
    expect(file.sha256Scope).toBe('partial');
    expect(file.bytesFetched).toBeLessThan(wav.length / 4);
    const got = await take(file);
    expect(got.subarray(-26)).toEqual(wav.subarray(-26));
    expect(other.requests.length).toBeGreaterThan(1);
    expect(other.requests.every((r) => r.range !== undefined)).toBe(true);
    expect(server.requests.length).toBe(other.requests.length);
  });

  it(`a redirect loop ends after ${maxRedirects} hops, permanently`, async () => {
    server.handle = (_req, res) => void res.writeHead(307, { location: '/loop' }).end();
    await expect(fetch('/loop')).rejects.toMatchObject({ code: 'URL_NOT_ALLOWED', retriable: false });
    expect(server.requests).toHaveLength(maxRedirects + 1);
  });
});

describe('objects stored with a Content-Encoding', () => {
  const text = Buffer.from('line one\nline two\n'.repeat(500));

  it.each([['a store that ignores Range', false], ['a store that answers ranges of the encoding', true]])(
    'gzip from %s: decoded, the decoded bytes hashed and sized',
    async (_label, ranges) => {
      const encoded = gzipSync(text);
      server.handle = (req, res) => {
        if (!ranges) return void res.writeHead(200, { 'content-encoding': 'gzip', 'content-length': encoded.length }).end(encoded);
        answerObject(req, res, { body: encoded, contentEncoding: 'gzip' });
      };
      const file = await fetch('/t.txt');
      expect([file.sizeBytes, file.sha256]).toEqual([text.length, sha(text)]);
      expect(await take(file)).toEqual(text);
    },
  );

  it('a gzip bomb ends TOO_LARGE once the decoded bytes pass the limit', async () => {
    const bomb = gzipSync(Buffer.alloc(50_000_000));
    server.handle = (_req, res) => void res.writeHead(200, { 'content-encoding': 'gzip' }).end(bomb);
    await expect(fetch('/bomb', undefined, { maxBytes: 1_000_000 })).rejects.toMatchObject({ code: 'TOO_LARGE' });
  });

  it('bytes that do not decode are CORRUPT_ASSET; an encoding not decoded is UNSUPPORTED_TYPE naming it', async () => {
    server.handle = (_req, res) => void res.writeHead(200, { 'content-encoding': 'gzip' }).end('not gzip at all');
    await expect(fetch('/bad')).rejects.toMatchObject({ code: 'CORRUPT_ASSET', retriable: false, message: expect.stringMatching(/Content-Encoding does not decode/) });
    server.handle = (_req, res) => void res.writeHead(200, { 'content-encoding': 'compress' }).end('xx');
    await expect(fetch('/lzw')).rejects.toMatchObject({ code: 'UNSUPPORTED_TYPE', message: expect.stringMatching(/Content-Encoding compress/) });
  });
});
