/**
 * The temp disk fills up mid-download: TMP_DIR is a 64 KiB tmpfs and the object is larger. The job fails
 * with STORAGE_UNAVAILABLE (retriable: space frees as other jobs end), never with a corrupt result, and
 * the partial file is gone; a job that fits runs right after. Mounting a tmpfs needs root (CI containers
 * run as root); a refused mount fails this file rather than skipping it.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { enqueueAsset, jobIdFor, waitForResult } from '../../src/queue/client.js';
import { startWorkerProcess, type WorkerProcess } from '../helpers/worker-process.js';
import { fixtureKey, jobLines, startHarness, type Harness } from './harness.js';

let h: Harness;
let w: WorkerProcess;
let mountPoint: string | undefined;

beforeAll(async () => {
  h = await startHarness({ name: 'diskfull' });
  const dir = mkdtempSync(path.join(os.tmpdir(), 'tiny-disk-'));
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k,mode=0700', 'tmpfs', dir]);
  mountPoint = dir;
  w = startWorkerProcess(h.env({ TMP_DIR: dir, WORKER_CONCURRENCY: '1' }));
  await w.ready();
});

afterAll(async () => {
  await h?.close();
  if (mountPoint) {
    execFileSync('umount', [mountPoint]);
    rmSync(mountPoint, { recursive: true, force: true });
  }
});

const filesOnTinyDisk = () =>
  execFileSync('find', [mountPoint!, '-type', 'f', '!', '-name', 'owner.json'], { encoding: 'utf8' }).split('\n').filter(Boolean);

describe('ENOSPC while downloading', () => {
  it('is STORAGE_UNAVAILABLE, retried, never CORRUPT_ASSET, and leaves no file', async () => {
    const assetId = 'disk/full';
    await enqueueAsset(h.queue, { assetId, source: { type: 'storage', storageId: 'main', key: fixtureKey('image', 'png-bomb-20000.png') } }, { attempts: 2, backoff: { type: 'fixed', delay: 100 } });
    const result = await waitForResult(h.queue, assetId, { timeoutMs: 30_000 });
    expect(result.error).toMatchObject({ code: 'STORAGE_UNAVAILABLE', retriable: true, message: expect.stringMatching(/temp disk full/) });
    expect(jobLines([w], assetId).map((l) => [l.code, l.next])).toEqual([
      ['STORAGE_UNAVAILABLE', 'retry'],
      ['STORAGE_UNAVAILABLE', 'done'],
    ]);
    expect((await h.queue.getJob(jobIdFor(assetId)))!.attemptsMade).toBe(2);
    expect(filesOnTinyDisk()).toEqual([]);
  });

  it('the next job that fits runs as usual', async () => {
    const assetId = 'disk/fits';
    await enqueueAsset(h.queue, { assetId, source: { type: 'storage', storageId: 'main', key: fixtureKey('image', 'jpeg-orient-6.jpg') } });
    expect(await waitForResult(h.queue, assetId, { timeoutMs: 30_000 })).toMatchObject({ status: 'ok', image: { orientation: 6 } });
    expect(filesOnTinyDisk()).toEqual([]);
  });
});
