/**
 * A replica (a child process) fetching from a server that sends `Connection: close` and closes right
 * after a 32 MiB body: undici 7 then throws an AssertionError from the socket's 'end' handler while the
 * body is paused (fixed in undici 8), which nothing can catch. In a fetch thread it ends that thread
 * only: the replica stays up, every asset ends with a saved result, no temp file is left, and a job after
 * the storm succeeds.
 */
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { enqueueAsset, waitForResult } from '../../src/queue/client.js';
import { fixturesDir } from '../helpers/fixtures.js';
import { startWorkerProcess, type WorkerProcess } from '../helpers/worker-process.js';
import { fixtureKey, jobLines, startHarness, type Harness } from './harness.js';

/** A 4x4 PNG (fixtures/image/png-16bit.png) padded with zeros to 32 MiB: big enough to back up the body. */
const png = readFileSync(path.join(fixturesDir, 'image', 'png-16bit.png'));
const body = Buffer.concat([png, Buffer.alloc(32 * 1024 * 1024 - png.length)]);
const assets = 8;

let h: Harness;
let w: WorkerProcess;
let server: Server;
let url: string;

beforeAll(async () => {
  server = createServer((req, res) => {
    res.writeHead(200, { 'content-length': body.length, 'content-type': 'image/png', connection: 'close' });
    res.end(body, () => req.socket.end());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/scan.png`;
  h = await startHarness({ name: 'fetchcrash' });
  w = startWorkerProcess(h.env({ WORKER_CONCURRENCY: '2', URL_ALLOWED_HOSTS: '127.0.0.1' }));
  await w.ready();
});

afterAll(async () => {
  await h?.close();
  await new Promise((r) => server?.close(r));
});

it('bodies cut by Connection: close: the replica stays up, every asset ends saved, nothing is left in temp', async () => {
  const ids = Array.from({ length: assets }, (_, i) => `fetchcrash/${i}`);
  for (const assetId of ids) {
    await enqueueAsset(h.queue, { assetId, source: { type: 'url', url: `${url}?n=${assetId}` } }, { attempts: 3, backoff: { type: 'fixed', delay: 100 } });
  }
  const results = await Promise.all(ids.map((assetId) => waitForResult(h.queue, assetId, { timeoutMs: 120_000 })));
  for (const [i, result] of results.entries()) {
    // Fetched whole: the 4x4 image; or, if the fetch thread died on every attempt, a retriable failure.
    if (result.status === 'ok') expect(result).toMatchObject({ dataType: 'image', image: { width: 4, height: 4 }, sizeBytes: body.length });
    else expect(result.error).toMatchObject({ code: 'WORKER_FAULT', retriable: true });
    expect(await h.saves(ids[i]!)).toHaveLength(1);
  }
  const crashes = ids.flatMap((id) => jobLines([w], id)).filter((l) => /fetch thread stopped/.test(l.error ?? '')).length;
  const attempts = ids.flatMap((id) => jobLines([w], id)).length;
  console.info(`[fetchcrash] ${assets} assets, ${attempts} attempts, ${crashes} failed because their fetch thread died; statuses: ${results.map((r) => r.error?.code ?? r.status).join(' ')}`);
  // Each death is logged once for the operator, with the fetches it failed.
  const stopped = w.logs.filter((l) => l.msg === 'a fetch thread stopped and was replaced; its fetches will be retried');
  expect(stopped.reduce((n, l) => n + Number(l.fetchesFailed), 0)).toBe(crashes);
  expect(w.child.exitCode).toBeNull();
  expect(w.child.signalCode).toBeNull();
  expect(h.tmp.files()).toEqual([]);

  // The replica goes on: a storage job after the storm.
  const key = fixtureKey('image', 'png-16bit.png');
  await enqueueAsset(h.queue, { assetId: 'fetchcrash/after', source: { type: 'storage', storageId: 'main', key } });
  expect(await waitForResult(h.queue, 'fetchcrash/after', { timeoutMs: 30_000 })).toMatchObject({ status: 'ok', image: { width: 4, height: 4 } });
}, 240_000);
