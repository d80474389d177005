/**
 * Ranged reads (src/storage/ranged/) against the dev S3 server: every fixture gives the same result read
 * by ranges as read whole; large objects of each planned format are read in a small share of their
 * bytes; suffix ranges are never sent; a store that ignores Range still works; sha256 says its scope.
 */
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { startS3Server, type S3Server } from '../../scripts/dev/s3-server.js';
import { extractFile } from '../../src/extractors/extract-file.js';
import { processAsset, type PipelineDeps } from '../../src/pipeline.js';
import { probeFile } from '../../src/probe.js';
import { createDownloader, type Downloader } from '../../src/storage/download.js';
import { fetchForExtraction } from '../../src/storage/ranged/ranged-read.js';
import { SparseFile } from '../../src/storage/ranged/sparse-file.js';
import { createStorages } from '../../src/storage/registry.js';
import type { StorageRegistry } from '../../src/storage/storage.js';
import { TempDir } from '../../src/storage/temp-dir.js';
import { writePdf } from '../../scripts/bench/pdf-writer.js';
import { fixturesDir, listFixtures, testExtractConfig } from '../helpers/fixtures.js';
import { multiFrameDicom } from './large-objects.js';
import { freshTempDir } from '../helpers/services.js';

const tmp = freshTempDir();
const work = freshTempDir();
const config = testExtractConfig();
const limits = { maxBytes: 2 ** 31, timeoutMs: 60_000, stallTimeoutMs: 10_000 };
const MiB = 1024 * 1024;

let s3: S3Server;
let temp: TempDir;
let storages: StorageRegistry;
let downloader: Downloader;

beforeAll(async () => {
  s3 = await startS3Server();
  temp = await TempDir.create(tmp.dir);
  downloader = createDownloader();
  storages = createStorages(
    loadConfig({
      R_KEY: s3.accessKeyId,
      R_SECRET: s3.secretAccessKey,
      STORAGES: JSON.stringify([{ id: 'main', kind: 's3', bucket: s3.bucket, region: s3.region, endpoint: s3.endpoint, forcePathStyle: true, accessKeyIdEnv: 'R_KEY', secretAccessKeyEnv: 'R_SECRET' }]),
    }).storages,
  );
  for (const file of listFixtures()) await s3.putObject(path.relative(fixturesDir, file), readFileSync(file));
});

afterAll(async () => {
  await downloader?.close();
  await temp?.close();
  await s3?.close();
  tmp.remove();
  work.remove();
});

const signedUrl = async (key: string) => (await storages('main').sign({ assetId: key, key })).url;
/** What was found, without timings, hashes or sizes. */
const found = (r: Record<string, unknown>) =>
  JSON.stringify({ status: r.status, dataType: r.dataType, mimeType: r.mimeType, section: r.dataType ? r[r.dataType as string] : (r.error as { code: string }).code });

function deps(rangedReadMinBytes: number): PipelineDeps {
  return {
    storages, signedDownloader: downloader, urlDownloader: downloader, temp,
    limits: { ...limits, rangedReadMinBytes }, extractConfig: config, extract: extractFile,
  };
}

/** Requests the server received for `key` since `from`. */
const requestsFor = (key: string, from: number) => s3.requests.slice(from).filter((r) => r.path.endsWith(`/${key}`) && r.method === 'GET');

describe('every fixture: ranged read (first range 512 bytes, planners on) = whole read', () => {
  const scopes = new Map<string, string>();
  it.each(listFixtures().map((f) => [path.relative(fixturesDir, f), f]))('%s', async (key, file) => {
    const whole = await probeFile(file, config);
    const before = s3.requests.length;
    const fetched = await fetchForExtraction(downloader, await signedUrl(key), temp, limits, 0, 512);
    try {
      const ranged = await probeFile(fetched.path, config).then((r) => ({ ...r, sha256: fetched.sha256 }));
      expect(found(ranged)).toBe(found(whole));
      expect(fetched.sizeBytes).toBe(statSync(file).size);
      if (fetched.sha256Scope === 'full') expect(fetched.sha256).toBe(whole.sha256);
      scopes.set(key, fetched.sha256Scope);
      for (const r of requestsFor(key, before)) if (r.range !== undefined) expect(r.range).toMatch(/^bytes=\d+-\d*$/);
    } finally {
      await temp.remove(fetched.path);
    }
  });

  it('the planners read each planned format by ranges (not a silent full read)', () => {
    for (const key of ['video/h264-moov-at-end.mp4', 'video/h264-aac-faststart.mp4', 'video/mpeg4.mov', 'audio/aac-24k-mono.m4a',
      'pdf/mixed-sizes.pdf', 'pdf/linearized.pdf', 'dicom/explicit-le.dcm', 'dicom/implicit-le.dcm', 'dicom/explicit-be.dcm',
      'audio/pcm-s16le-8k-mono.wav']) {
      expect([key, scopes.get(key)]).toEqual([key, 'partial']);
    }
  });
});

describe('large objects through the pipeline', () => {
  // The bound is 5% of the object; DICOM and WAV need little beyond the first range (512 KiB,
  // 2% of these 26 MB and 40 MB objects): 4% would catch a planner that fetched a second MiB for nothing.
  const cases: [label: string, make: (file: string) => Promise<void> | void, maxShare: number][] = [
    ['mp4, moov at the end', (f) => bigMp4(f, false), 0.05],
    ['mp4, moov at the front', (f) => bigMp4(f, true), 0.05],
    ['pdf, pages between two big streams', (f) => writePdf(f, { pages: 300, streamBytes: 12 * MiB }), 0.05],
    ['dicom, multi-frame', multiFrameDicom, 0.04],
    ['wav', bigWav, 0.04],
  ];
  it.each(cases)('%s: partial, a small share fetched, same result as whole', async (label, make, maxShare) => {
    const file = path.join(work.dir, label.replace(/\W+/g, '-'));
    await make(file);
    const key = `large/${path.basename(file)}`;
    await s3.putObject(key, readFileSync(file));
    const size = statSync(file).size;
    const before = s3.requests.length;
    const ranged = await processAsset({ assetId: key, source: { type: 'storage', storageId: 'main', key } }, deps(16 * MiB));
    const fetched = requestsFor(key, before).reduce((n, r) => n + r.bytesSent, 0);
    const full = await processAsset({ assetId: key, source: { type: 'storage', storageId: 'main', key } }, deps(Number.MAX_SAFE_INTEGER));
    expect(ranged.status).toBe('ok');
    expect(ranged.sha256Scope).toBe('partial');
    expect(full.sha256Scope).toBe('full');
    expect(full.sha256).toBe(createHash('sha256').update(readFileSync(file)).digest('hex'));
    expect(ranged.sizeBytes).toBe(size);
    expect(fetched / size).toBeLessThan(maxShare);
    expect(found(ranged)).toBe(found(full));
    for (const r of requestsFor(key, before)) expect(r.range).toMatch(/^bytes=\d+-\d*$/);
    expect(tmp.files()).toEqual([]);
  });
});

describe('SparseFile', () => {
  it('holds what was written, reports the gaps and hashes the held bytes in offset order', async () => {
    const sparse = await SparseFile.create(temp, 100);
    try {
      await sparse.write(50, Buffer.from('bbbb'));
      await sparse.write(10, Buffer.from('aaaa'));
      await sparse.write(12, Buffer.from('cccc'));
      expect(sparse.missing(0, 100)).toEqual([[0, 10], [16, 50], [54, 100]]);
      expect(sparse.heldBytes).toBe(10);
      expect(await sparse.sha256()).toBe(createHash('sha256').update('aacccc' + 'bbbb').digest('hex'));
      expect(statSync(sparse.path).size).toBe(100);
    } finally {
      await sparse.close();
      await temp.remove(sparse.path);
    }
  });
});

describe('stores', () => {
  let plain: Server;
  let body: Buffer;
  beforeAll(async () => {
    body = readFileSync(listFixtures('pdf').find((f) => f.endsWith('mixed-sizes.pdf'))!);
    // A store that ignores Range: 200 and the whole body, always.
    plain = createServer((_req, res) => res.writeHead(200, { 'content-length': body.length }).end(body));
    await new Promise<void>((r) => plain.listen(0, '127.0.0.1', r));
  });
  afterAll(() => new Promise((r) => plain.close(r)));

  it('a store that ignores Range is read as a whole download', async () => {
    const url = `http://127.0.0.1:${(plain.address() as AddressInfo).port}/x.pdf`;
    const fetched = await fetchForExtraction(downloader, url, temp, limits, 0, 512);
    try {
      expect(fetched.sha256Scope).toBe('full');
      expect(fetched.sha256).toBe(createHash('sha256').update(body).digest('hex'));
      expect(readFileSync(fetched.path).equals(body)).toBe(true);
    } finally {
      await temp.remove(fetched.path);
    }
  });

  // Under RANGED_READ_MIN_BYTES an object is read from where the first range ended and hashed whole: two
  // requests with a 512-byte first range, one when it fits the default first range (512 KiB).
  it.each([
    ['a 512-byte first range: two requests', 512, ['bytes=0-511', 'bytes=512-']],
    ['the default first range (512 KiB): one request', undefined, ['bytes=0-524287']],
  ] as const)('an object under RANGED_READ_MIN_BYTES, %s, hashed whole', async (_label, firstBytes, ranges) => {
    const file = listFixtures('image').find((f) => statSync(f).size > 4096)!;
    const key = path.relative(fixturesDir, file);
    const before = s3.requests.length;
    const fetched = await fetchForExtraction(downloader, await signedUrl(key), temp, limits, 16 * MiB, firstBytes);
    try {
      expect(fetched.sha256Scope).toBe('full');
      expect(fetched.sha256).toBe(createHash('sha256').update(readFileSync(file)).digest('hex'));
      expect(readFileSync(fetched.path).equals(readFileSync(file))).toBe(true);
      expect(requestsFor(key, before).map((r) => r.range)).toEqual(ranges);
    } finally {
      await temp.remove(fetched.path);
    }
  });

  it('TOO_LARGE from the first range, before any more is read', async () => {
    const file = listFixtures('image')[0]!;
    const key = path.relative(fixturesDir, file);
    await expect(fetchForExtraction(downloader, await signedUrl(key), temp, { ...limits, maxBytes: 10 }, 0)).rejects.toMatchObject({ code: 'TOO_LARGE' });
  });
});

/** An MP4 of ~40 MB: a 1 s lossless clip looped (moov at the end, or at the front with faststart). */
function bigMp4(file: string, faststart: boolean): void {
  const clip = `${file}.clip.mp4`;
  const ff = (...args: string[]) => execFileSync('ffmpeg', ['-v', 'error', '-y', ...args]);
  ff('-f', 'lavfi', '-i', 'testsrc2=s=640x360:r=25', '-f', 'lavfi', '-i', 'sine=sample_rate=48000', '-t', '1',
    '-c:v', 'libx264', '-preset', 'ultrafast', '-qp', '0', '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-f', 'mp4', clip);
  const loops = Math.ceil((40 * MiB) / statSync(clip).size);
  ff('-stream_loop', String(loops), '-i', clip, '-c', 'copy', ...(faststart ? ['-movflags', '+faststart'] : []), '-f', 'mp4', file);
}

/** 16-bit stereo 48 kHz PCM, 40 MB of silence after the canonical 44-byte header, and a LIST chunk after the data. */
function bigWav(file: string): void {
  const data = 40 * MiB;
  const list = Buffer.concat([Buffer.from('LIST'), Buffer.alloc(4), Buffer.from('INFOINAM'), Buffer.alloc(4), Buffer.from('bench\0')]);
  list.writeUInt32LE(list.length - 8, 4);
  list.writeUInt32LE(6, 16);
  const h = Buffer.alloc(44);
  h.write('RIFF', 0);
  h.writeUInt32LE(36 + data + list.length, 4);
  h.write('WAVEfmt ', 8);
  h.writeUInt32LE(16, 16);
  h.writeUInt16LE(1, 20);
  h.writeUInt16LE(2, 22);
  h.writeUInt32LE(48_000, 24);
  h.writeUInt32LE(192_000, 28);
  h.writeUInt16LE(4, 32);
  h.writeUInt16LE(16, 34);
  h.write('data', 36);
  h.writeUInt32LE(data, 40);
  writeFileSync(file, h);
  truncateSync(file, 44 + data);
  writeFileSync(file, list, { flag: 'a' });
}
