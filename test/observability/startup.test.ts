/**
 * A replica that starts while PostgreSQL is down is alive but not ready until its migration has run, and
 * HEALTH_PORT=0 runs no server at all.
 */
import net from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { startWorker } from '../../workers/metadata-worker.js';
import { databaseUrl, dropSchema, freshTempDir, redisUrl, startTcpProxy, uniqueName } from '../helpers/services.js';
import { captureLogs, get, testConfig } from './harness.js';

const schema = uniqueName('t_start');
const tmp = freshTempDir();

afterAll(async () => {
  await dropSchema(schema);
  tmp.remove();
});

/** A port that was free a moment ago: startWorker does not return (so cannot tell its port) until migrated. */
async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((r) => server.close(r));
  return port;
}

describe('start-up', () => {
  it('/readyz is 503 (migrations pending) while PostgreSQL is down, /healthz 200; ready once it is back', async () => {
    const pg = new URL(databaseUrl);
    const proxy = await startTcpProxy({ host: pg.hostname, port: Number(pg.port || 5432) });
    proxy.cut();
    pg.host = `127.0.0.1:${proxy.port}`;
    const port = await freePort();
    const config = testConfig({ REDIS_URL: redisUrl, DATABASE_URL: pg.href, DATABASE_SCHEMA: schema, QUEUE_NAME: uniqueName('start'), TMP_DIR: tmp.dir });
    const starting = startWorker(config, captureLogs('silent').logger, { listen: { host: '127.0.0.1', port } });
    const base = `http://127.0.0.1:${port}`;
    try {
      await expect.poll(async () => (await get(`${base}/healthz`).catch(() => ({ status: 0 }))).status, { timeout: 5_000, interval: 50 }).toBe(200);
      const ready = await get(`${base}/readyz`);
      expect(ready.status).toBe(503);
      expect(ready.json()).toMatchObject({
        ready: false,
        failed: ['migrations', 'worker'],
        checks: { redis: { ok: true }, migrations: { ok: false, detail: 'pending' }, worker: { ok: false, detail: 'starting' } },
      });
    } finally {
      proxy.restore();
    }
    const worker = await starting;
    try {
      expect(worker.http?.port).toBe(port);
      expect((await get(`${base}/readyz`)).status).toBe(200);
    } finally {
      await worker.close();
      await proxy.close();
    }
  });

  it('HEALTH_PORT=0 runs no HTTP server', async () => {
    const config = testConfig({ REDIS_URL: redisUrl, DATABASE_URL: databaseUrl, DATABASE_SCHEMA: schema, QUEUE_NAME: uniqueName('start'), TMP_DIR: tmp.dir, HEALTH_PORT: '0' });
    const worker = await startWorker(config, captureLogs('silent').logger);
    try {
      expect(worker.http).toBeUndefined();
      expect(worker.state.ready).toBe(true);
    } finally {
      await worker.close();
    }
  });
});
