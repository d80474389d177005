/**
 * The fetch threads (src/storage/fetch/pool.ts) against a scripted loopback server: a fetch gives the same
 * file as one on this thread; an exception thrown inside a fetch thread, outside any promise chain, or a
 * fetch thread whose event loop stops, fails only the fetches of that thread with retriable codes, leaves
 * no temp file, and the next fetch works on a fresh thread.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDownloader } from '../../src/storage/download.js';
import { inProcessFetcher, type FetchRequest } from '../../src/storage/fetch/fetcher.js';
import { FetchPool } from '../../src/storage/fetch/pool.js';
import { TempDir } from '../../src/storage/temp-dir.js';
import { freshTempDir } from '../helpers/services.js';

const tmp = freshTempDir();
const limits = { maxBytes: 64 * 1024 * 1024, timeoutMs: 30_000, stallTimeoutMs: 30_000 };
/** 100 KiB whose byte i is i mod 251: what `/ok` serves. */
const okBody = Buffer.from(Array.from({ length: 100 * 1024 }, (_, i) => i % 251));
const secret = 'X-Amz-Signature=feedfacefeedfacefeedfacefeedface';

let server: Server;
let base: string;
let temp: TempDir;
let pool: FetchPool;
/** Responses held open by the server (stalls), ended in afterAll. */
const held = new Set<ServerResponse>();

beforeAll(async () => {
  server = createServer((req, res) => {
    const route = new URL(req.url!, 'http://x').pathname;
    if (route === '/ok') return res.writeHead(200, { 'content-length': okBody.length }).end(okBody);
    // Headers and a quarter of a 1 MiB body, then nothing: the file is part-written when the fault comes.
    const fault = route === '/throw' ? 'throw-after-ms=300' : route === '/block' ? 'block' : undefined;
    res.writeHead(200, { 'content-length': 1024 * 1024, ...(fault ? { 'x-test-fault': fault } : {}) });
    res.write(Buffer.alloc(256 * 1024, 1));
    held.add(res);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  temp = await TempDir.create(tmp.dir);
  pool = new FetchPool({ threads: 1, allowedHosts: ['127.0.0.1'], preload: new URL('./fetch-fault-hook.ts', import.meta.url) });
  expect(await pool.warm()).toEqual([]);
});

afterAll(async () => {
  await pool?.close();
  for (const res of held) res.destroy();
  await new Promise((r) => server?.close(r));
  await temp?.close();
  tmp.remove();
});

const request = (route: string, overrides: Partial<FetchRequest> = {}): FetchRequest => ({
  source: 'url', url: `${base}${route}?${secret}`, limits, rangedMinBytes: Infinity, ...overrides,
});
/** What the replica's temp directory holds besides its owner file. */
const leftovers = () => readdirSync(temp.dir).filter((n) => n !== 'owner.json');

const expectOkFetch = async () => {
  const opened = temp.openCount;
  const file = await pool.fetch(request('/ok'), temp);
  try {
    expect(path.dirname(file.path)).toBe(temp.dir);
    // Counted by the replica's TempDir as any download is (the open-temp-files gauge).
    expect(temp.openCount).toBe(opened + 1);
    expect(file).toMatchObject({ sizeBytes: okBody.length, sha256: createHash('sha256').update(okBody).digest('hex'), sha256Scope: 'full' });
    expect(readFileSync(file.path).equals(okBody)).toBe(true);
  } finally {
    await temp.remove(file.path);
  }
};

describe('fetch threads', () => {
  it('a fetch lands in the replica temp directory under the name the main thread chose, nothing else left', async () => {
    await expectOkFetch();
    expect(leftovers()).toEqual([]);
  });

  it('an exception thrown in a fetch thread fails its fetches as retriable, removes their files; the next fetch works', async () => {
    const before = pool.replaced;
    // A fetch that stalls shares the thread with one whose thread throws: both fail.
    const outcomes = await Promise.allSettled([pool.fetch(request('/throw'), temp), pool.fetch(request('/stall'), temp)]);
    for (const outcome of outcomes) {
      expect(outcome.status).toBe('rejected');
      const err = (outcome as PromiseRejectedResult).reason as unknown;
      expect(err).toMatchObject({ code: 'WORKER_FAULT', retriable: true });
      expect((err as Error).message).toMatch(/fetch thread stopped: Error: fault injected into the fetch thread/);
      expect((err as Error).message).not.toContain('feedface');
    }
    expect(pool.replaced).toBe(before + 1);
    expect(leftovers()).toEqual([]);
    expect(temp.openCount).toBe(0);
    await expectOkFetch();
  });

  it('a fetch thread whose event loop stops: DOWNLOAD_TIMEOUT after its time, the thread replaced', async () => {
    const before = pool.replaced;
    const started = performance.now();
    const err = await pool.fetch(request('/block', { limits: { ...limits, timeoutMs: 300 } }), temp).then(() => undefined, (e: unknown) => e);
    expect(err).toMatchObject({ code: 'DOWNLOAD_TIMEOUT', retriable: true });
    // The fetch's own time, then the watchdog's grace (5 s): not the stall timeout of 30 s.
    expect(performance.now() - started).toBeLessThan(10_000);
    await expect.poll(() => pool.replaced, { timeout: 5_000 }).toBe(before + 1);
    expect(leftovers()).toEqual([]);
    await expectOkFetch();
  });
});

/**
 * Serves `/ok`'s bytes from another process: a server on this thread would be woken by every request of a
 * fetch thread, and the figure would be of two threads taking turns, not of the hop.
 */
const serverScript = `const body = Buffer.from(Array.from({ length: ${okBody.length} }, (_, i) => i % 251));
const server = require('node:http').createServer((req, res) => res.writeHead(200, { 'content-length': body.length }).end(body));
server.listen(0, '127.0.0.1', () => console.log(server.address().port));`;

describe('the thread hop', () => {
  it('costs little per fetch, and gives the same file as a fetch on this thread', async () => {
    const child = spawn(process.execPath, ['-e', serverScript], { stdio: ['ignore', 'pipe', 'inherit'] });
    const port = await new Promise<string>((resolve) => child.stdout!.once('data', (d: Buffer) => resolve(d.toString().trim())));
    const downloader = createDownloader();
    const here = inProcessFetcher({ signed: downloader, url: downloader });
    const jobs = 200;
    const time = async (fetcher: { fetch: typeof pool.fetch }) => {
      const t0 = performance.now();
      let sha = '';
      for (let i = 0; i < jobs; i++) {
        const file = await fetcher.fetch({ ...request('/ok'), url: `http://127.0.0.1:${port}/ok` }, temp);
        sha = file.sha256;
        await temp.remove(file.path);
      }
      return { msPerFetch: (performance.now() - t0) / jobs, sha };
    };
    try {
      await time(here);
      const inThread = await time(pool);
      const onMain = await time(here);
      console.info(`[fetch hop] ${jobs} fetches of ${okBody.length} bytes: on the main thread ${onMain.msPerFetch.toFixed(3)} ms each, through a fetch thread ${inThread.msPerFetch.toFixed(3)} ms each`);
      expect(inThread.sha).toBe(createHash('sha256').update(okBody).digest('hex'));
      expect(onMain.sha).toBe(inThread.sha);
      expect(leftovers()).toEqual([]);
    } finally {
      child.kill();
      await downloader.close();
    }
  });
});
