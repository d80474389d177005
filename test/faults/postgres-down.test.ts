/**
 * PostgreSQL goes away while jobs run (a TCP proxy in front of the shared server drops every connection
 * and refuses new ones): the jobs wait, delayed, with RESULT_SINK_UNAVAILABLE, keeping the result they
 * finished; none is lost; each is saved exactly once when the database is back, without fetching the
 * asset again.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { enqueueAsset, jobIdFor } from '../../src/queue/client.js';
import { databaseUrl, startTcpProxy } from '../helpers/services.js';
import { startWorkerProcess } from '../helpers/worker-process.js';
import { fixtureKey, jobLines, startHarness, until, type Harness } from './harness.js';

let h: Harness;
let proxy: Awaited<ReturnType<typeof startTcpProxy>>;

beforeAll(async () => {
  const url = new URL(databaseUrl);
  proxy = await startTcpProxy({ host: url.hostname, port: Number(url.port || 5432) });
  url.host = `127.0.0.1:${proxy.port}`;
  h = await startHarness({ name: 'pgdown', databaseUrl: url.href });
});

afterAll(async () => {
  await h?.close();
  await proxy?.close();
});

describe('PostgreSQL down while jobs run', () => {
  it('jobs wait with RESULT_SINK_UNAVAILABLE and are all saved once when it is back', async () => {
    const w = startWorkerProcess(h.env());
    await w.ready();
    proxy.cut();
    const keys = ['png-alpha.png', 'gif-anim-3.gif', 'jpeg-orient-6.jpg', 'webp-alpha.webp', 'svg-px.svg', 'bmp-24bit.bmp'];
    const ids = keys.map((k) => `pgdown/${k}`);
    try {
      for (const [i, assetId] of ids.entries()) {
        await enqueueAsset(h.queue, { assetId, source: { type: 'storage', storageId: 'main', key: fixtureKey('image', keys[i]!) } });
      }
      for (const assetId of ids) {
        await until(`${assetId} delayed`, () => jobLines([w], assetId).some((l) => l.next === 'delayed'), 20_000);
      }
      // Held down a little longer: several rounds of delayed retries hit the closed door.
      await new Promise((r) => setTimeout(r, 1_500));
    } finally {
      proxy.restore();
    }
    for (const assetId of ids) {
      const job = (await h.queue.getJob(jobIdFor(assetId)))!;
      await until(`${assetId} completed`, async () => (await job.getState()) === 'completed', 30_000);
    }
    for (const assetId of ids) {
      expect(await h.saves(assetId), assetId).toEqual([{ status: 'ok', error_code: null }]);
      const lines = jobLines([w], assetId);
      expect(lines.filter((l) => l.next === 'delayed').every((l) => l.code === 'RESULT_SINK_UNAVAILABLE')).toBe(true);
      expect(lines.at(-1)).toMatchObject({ status: 'ok', next: 'done' });
      // The finished result rode in the job while it waited: the asset was fetched once.
      expect(h.s3.requests.filter((r) => r.method === 'GET' && r.path.endsWith(`/${fixtureKey('image', assetId.slice('pgdown/'.length))}`))).toHaveLength(1);
    }
    // Nothing failed, nothing left waiting, nothing left on disk.
    expect(await h.queue.getJobCounts('failed', 'wait', 'active', 'delayed')).toEqual({ failed: 0, wait: 0, active: 0, delayed: 0 });
    expect(h.tmp.files()).toEqual([]);
    w.kill('SIGTERM');
    expect((await w.exited()).code).toBe(0);
  });
});

describe('PostgreSQL down while a replica starts', () => {
  it('SIGTERM while it waits for the migration: it stops waiting, removes its directory, exits 0', async () => {
    proxy.cut();
    try {
      const w = startWorkerProcess(h.env());
      // Waiting: its first migration attempt failed and it retries; its temp directory exists.
      await w.logged((l) => l.msg === 'postgres sink init failed; retrying in 500 ms', 30_000);
      expect(h.replicaDirs()).toEqual([expect.stringMatching(new RegExp(`^replica-${w.pid}-`))]);
      w.kill('SIGTERM');
      expect(await w.exited(10_000)).toEqual({ code: 0, signal: null });
      expect(w.logs.map((l) => l.msg)).toEqual(expect.arrayContaining(['stopping before the start finished', 'stopped']));
      expect(w.logs.some((l) => l.msg === 'worker started')).toBe(false);
      expect(h.replicaDirs()).toEqual([]);
      expect(w.stderr.join('')).toBe('');
    } finally {
      proxy.restore();
    }
  });
});
