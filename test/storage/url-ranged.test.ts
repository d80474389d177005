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
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { extractFile } from '../../src/extractors/extract-file.js';
import { processAsset, type PipelineDeps } from '../../src/pipeline.js';
import { FetchPool } from '../../src/storage/fetch/pool.js';
import { createStorages } from '../../src/storage/storage.js';
import { TempDir } from '../../src/storage/temp-dir.js';
import { pageOf, writePdf } from '../../scripts/bench/pdf-writer.js';
import { testExtractConfig } from '../helpers/fixtures.js';
import { startObjectServer, type ObjectServer } from '../helpers/object-server.js';
import { freshTempDir } from '../helpers/services.js';
import { answerFile, mp4MoovAfterBigMdat, multiFrameDicom, sha256Of } from './large-objects.js';

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

beforeAll(async () => {
  [store, elsewhere] = await Promise.all([startObjectServer(), startObjectServer()]);
  store.handle = (req, res) => {
    const at = new URL(req.url!, store.origin).pathname;
    const file = files.get(at);
    if (!file) return void res.writeHead(404).end();
    answerFile(req, res, file, (n) => sent.set(at, (sent.get(at) ?? 0) + n));
  };
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
