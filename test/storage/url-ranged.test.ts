/**
 * `url` sources (a URL the backend signed, or `asset-meta probe URL`) read by ranges through the
 * pipeline and the real fetch threads, against scripted loopback servers: a large MP4, PDF and DICOM cost
 * a small share of their bytes and give the same result as a whole read; a server that ignores Range is
 * read once; every hop of every range is checked against URL_ALLOWED_HOSTS (host:port); a refusal is
 * ACCESS_DENIED at once, with nothing to sign again.
 */
import path from 'node:path';
import { statSync } from 'node:fs';
import type { AssetResult } from '../../src/contract.js';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { extractFile } from '../../src/extractors/extract-file.js';
import { processAsset, type PipelineDeps } from '../../src/pipeline.js';
import { FetchPool } from '../../src/storage/fetch/pool.js';
import { createStorages } from '../../src/storage/registry.js';
import { TempDir } from '../../src/storage/temp-dir.js';
import { pageOf, writePdf } from '../../scripts/bench/pdf-writer.js';
import { testExtractConfig } from '../helpers/fixtures.js';
import { startObjectServer, type Handler, type ObjectServer } from '../helpers/object-server.js';
import { freshTempDir } from '../helpers/services.js';
import { answerFile, dicomWithPixelTagInPrivateValue, mp4MoovAfterBigMdat, multiFrameDicom, sha256Of } from './large-objects.js';

const MiB = 1024 * 1024;
const tmp = freshTempDir();
const work = freshTempDir();
const limits = { maxBytes: 2 ** 31, timeoutMs: 120_000, stallTimeoutMs: 30_000 };
/** The bound this part promises: a url source of a planned format costs at most this share of its bytes. */
const maxShareFetched = 0.05;

let store: ObjectServer;
let elsewhere: ObjectServer;
let temp: TempDir;
let pool: FetchPool;
/** Objects the store serves, by path. */
const files = new Map<string, string>();
/** Body bytes the store read for each path since the last reset. */
const sent = new Map<string, number>();

/** What the store answers unless a test says otherwise: the files of `files`, by ranges. */
const serveFiles: Handler = (req, res) => {
  const at = new URL(req.url!, store.origin).pathname;
  const file = files.get(at);
  if (!file) return void res.writeHead(404).end();
  answerFile(req, res, file, (n) => sent.set(at, (sent.get(at) ?? 0) + n));
};

beforeAll(async () => {
  [store, elsewhere] = await Promise.all([startObjectServer(), startObjectServer()]);
  store.handle = serveFiles;
  elsewhere.handle = (_req, res) => void res.end('internal data');
  temp = await TempDir.create(tmp.dir);
  // URL_ALLOWED_HOSTS naming the store's host and port: loopback is private, so only that port is allowed.
  pool = new FetchPool({ threads: 1, allowedHosts: [`127.0.0.1:${store.port}`] });
  expect(await pool.warm()).toEqual([]);
}, 60_000);

afterAll(async () => {
  await pool?.close();
  await Promise.all([store?.close(), elsewhere?.close()]);
  await temp?.close();
  tmp.remove();
  work.remove();
});

afterEach(() => {
  store.handle = serveFiles;
  // Whatever happened, no fetched byte stays behind.
  expect(tmp.files()).toEqual([]);
});

const deps = (rangedReadMinBytes: number): PipelineDeps => ({
  fetcher: pool, storages: createStorages([]), temp, limits: { ...limits, rangedReadMinBytes },
  extractConfig: testExtractConfig(), extract: extractFile,
});
/** RANGED_READ_MIN_BYTES for each way of reading: the default (16 MiB), or never by ranges. */
const minBytes = { ranged: 16 * MiB, whole: Number.MAX_SAFE_INTEGER };
const run = (assetId: string, url: string, mode: keyof typeof minBytes = 'ranged') =>
  processAsset({ assetId, source: { type: 'url', url } }, deps(minBytes[mode]));
/** What was found, without timings, hashes or sizes. */
const found = (r: AssetResult) => JSON.stringify({ status: r.status, dataType: r.dataType, mimeType: r.mimeType, section: r.dataType ? r[r.dataType] : r.error?.code });

/** Serves `file` at `at` on the store; returns its URL (with a query string, as a signed URL has). */
const serve = (at: string, file: string) => {
  files.set(at, file);
  return `${store.origin}${at}?X-Amz-Signature=00ff00ff00ff00ff00ff00ff00ff00ff`;
};

describe('large url sources by ranges, through the fetch threads', () => {
  const cases: [label: string, make: (file: string) => Promise<void> | void, check: (r: AssetResult) => void][] = [
    ['mp4, moov after a 200 MB mdat', (f) => mp4MoovAfterBigMdat(f, 200 * MiB), (r) => {
      expect(r.video).toMatchObject({ width: 640, height: 360, videoCodec: 'h264', audio: { sampleRate: 48_000, channels: 1 } });
      expect(r.video!.durationSec).toBeCloseTo(1, 0);
    }],
    ['pdf, 300 pages between two 12 MiB streams', (f) => writePdf(f, { pages: 300, streamBytes: 12 * MiB }), (r) => {
      expect(r.pdf!.pageCount).toBe(300);
      for (const i of [0, 1, 2, 3, 299]) {
        const { width, height, rotate } = pageOf(i);
        expect(r.pdf!.pages[i]).toEqual(rotate % 180 ? { width: height, height: width } : { width, height });
      }
    }],
    ['dicom, 100 frames of 512×512', multiFrameDicom, (r) => {
      expect(r.dicom).toMatchObject({ width: 512, height: 512, frames: 100 });
    }],
  ];

  it.each(cases)('%s: partial, at most 5% fetched, the same result as a whole read', async (label, make, check) => {
    const file = path.join(work.dir, label.replace(/\W+/g, '-'));
    await make(file);
    const size = statSync(file).size;
    const url = serve(`/${path.basename(file)}`, file);
    sent.clear();
    const partial = await run(`ranged/${label}`, url);
    const fetched = sent.get(`/${path.basename(file)}`) ?? 0;
    sent.clear();
    const full = await run(`whole/${label}`, url, 'whole');
    // The figures go to the test output (docs/failure-behaviour.md).
    console.info(`[url-ranged] ${label}: ${fetched} of ${size} bytes fetched (${((fetched / size) * 100).toFixed(2)}%)`);
    expect(partial.error).toBeUndefined();
    expect(partial).toMatchObject({ status: 'ok', sizeBytes: size, sha256Scope: 'partial' });
    expect(fetched / size).toBeLessThan(maxShareFetched);
    check(partial);
    expect(full).toMatchObject({ status: 'ok', sizeBytes: size, sha256Scope: 'full', sha256: await sha256Of(file) });
    expect(sent.get(`/${path.basename(file)}`)).toBe(size);
    expect(found(partial)).toBe(found(full));
    expect(tmp.files()).toEqual([]);
  }, 180_000);
});

describe('url sources: the server and the guard', () => {
  /** A 20 MiB PDF (3 pages, two 10 MiB streams): over RANGED_READ_MIN_BYTES, so a ranged read would be tried. */
  let pdf: string;
  let pdfUrl: string;
  let mp4: string;
  beforeAll(async () => {
    pdf = path.join(work.dir, 'three-pages.pdf');
    await writePdf(pdf, { pages: 3, streamBytes: 10 * MiB });
    pdfUrl = serve('/three-pages.pdf', pdf);
    mp4 = path.join(work.dir, 'moov-after-40-mib.mp4');
    mp4MoovAfterBigMdat(mp4, 40 * MiB);
  });
  /** Requests the store received from `from` on, as [path, Range]. */
  const since = (from: number) => store.requests.slice(from).map((r) => [r.path, r.range]);

  it('a server that answers 200 to a Range request is read once, whole', async () => {
    const before = store.requests.length;
    store.handle = (req, res) => answerFile(req, res, pdf, () => {}, true);
    const result = await run('url/ignores-range', pdfUrl);
    expect(result).toMatchObject({ status: 'ok', sha256Scope: 'full', sizeBytes: statSync(pdf).size, sha256: await sha256Of(pdf), pdf: { pageCount: 3 } });
    expect(since(before)).toEqual([['/three-pages.pdf', 'bytes=0-524287']]);
  });

  it.each([
    ['pdf', () => pdf],
    ['mp4', () => mp4],
  ])('a server that honours the first Range only (200 to the rest), %s: three requests, the object read once more whole', async (label, file) => {
    const before = store.requests.length;
    let bytes = 0;
    store.handle = (req, res, n) => answerFile(req, res, file(), (c) => (bytes += c), n > before);
    const result = await run(`url/first-range-only-${label}`, serve(`/first-only.${label}`, file()));
    const size = statSync(file()).size;
    console.info(`[url-ranged] first range only, ${label}: ${store.requests.length - before} requests, ${bytes} bytes read of ${size}`);
    expect(result).toMatchObject({ status: 'ok', sha256Scope: 'full', sizeBytes: size, sha256: await sha256Of(file()) });
    // The first range (206); the plan's first range (200: dropped at once, the plan gives up); the rest
    // (200: read whole). The dropped reply costs what the server read for it before the socket closed
    // (0.6-5 MiB over loopback here), so the count of requests is what is checked.
    expect(store.requests.length - before).toBe(3);
  });

  it('a partial read that missed bytes the extractor needed: read whole and extracted again, through the guard', async () => {
    // The planner stops at the Pixel Data tag's bytes inside a private value; Rows and Columns lie past
    // the first range, in what a partial read leaves as a hole: extraction fails and the object is read whole.
    const file = path.join(work.dir, 'pixel-tag-in-private-value.dcm');
    dicomWithPixelTagInPrivateValue(file, 17 * MiB);
    const size = statSync(file).size;
    const before = store.requests.length;
    const result = await run('url/missed', serve('/missed.dcm', file));
    expect(result.error).toBeUndefined();
    expect(result).toMatchObject({ status: 'ok', sha256Scope: 'full', sizeBytes: size, sha256: await sha256Of(file), dicom: { width: 64, height: 64, frames: 1 } });
    expect(since(before)).toEqual([
      // The ranged read: the first range, then the last 8 bytes the DICOM plan always reads.
      ['/missed.dcm', 'bytes=0-524287'], ['/missed.dcm', `bytes=${size - 8}-${size - 1}`],
      // The whole read: the first range, then the rest.
      ['/missed.dcm', 'bytes=0-524287'], ['/missed.dcm', 'bytes=524288-'],
    ]);
  });

  it.each([
    ['the first request', (n: number) => n === 0],
    ['a later range', (n: number) => n > 0],
  ])('%s redirected to a port URL_ALLOWED_HOSTS does not name: URL_NOT_ALLOWED, nothing asked of the target', async (_label, redirect) => {
    const before = store.requests.length;
    const target = elsewhere.requests.length;
    store.handle = (req, res, n) => {
      if (redirect(n - before)) return void res.writeHead(302, { location: `${elsewhere.origin}/internal` }).end();
      serveFiles(req, res, n);
    };
    const result = await run('url/redirected', pdfUrl);
    expect(result.error).toMatchObject({ code: 'URL_NOT_ALLOWED', retriable: false });
    expect(result.error!.message).not.toContain('X-Amz-Signature');
    expect(elsewhere.requests.length).toBe(target);
  });

  it('a redirect to the allowed host and port is followed, for every range', async () => {
    const before = store.requests.length;
    store.handle = (req, res, n) => {
      if (req.url!.startsWith('/moved/')) return void res.writeHead(302, { location: `${store.origin}/three-pages.pdf` }).end();
      serveFiles(req, res, n);
    };
    const result = await run('url/moved', `${store.origin}/moved/three-pages.pdf`);
    expect(result).toMatchObject({ status: 'ok', sha256Scope: 'partial', pdf: { pageCount: 3 } });
    const paths = store.requests.slice(before).map((r) => r.path);
    expect(paths.filter((p) => p === '/moved/three-pages.pdf').length).toBe(paths.filter((p) => p === '/three-pages.pdf').length);
  });

  it('a URL naming another port of an allowed host: URL_NOT_ALLOWED before connecting', async () => {
    const target = elsewhere.requests.length;
    const result = await run('url/other-port', `${elsewhere.origin}/x.pdf`);
    expect(result.error).toMatchObject({ code: 'URL_NOT_ALLOWED', retriable: false });
    expect(elsewhere.requests.length).toBe(target);
  });

  it('a refused URL is ACCESS_DENIED at once: one request, nothing to sign again', async () => {
    const before = store.requests.length;
    store.handle = (_req, res) => void res.writeHead(403).end('<Error><Code>AccessDenied</Code></Error>');
    const result = await run('url/refused', pdfUrl);
    expect(result.error).toMatchObject({ code: 'ACCESS_DENIED', retriable: false });
    expect(store.requests.length - before).toBe(1);
  });
});
