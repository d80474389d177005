/**
 * The webhook sink against real local HTTP receivers: the signature verifies on the exact bytes received,
 * every failure to deliver is RESULT_SINK_UNAVAILABLE, and through the queue a receiver that answers 500
 * twice gets the result on the third try (the job is delayed, not failed, and the asset is fetched once).
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFileSync } from 'node:fs';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AssetResult } from '../../src/contract.js';
import { ResultSinkUnavailableError } from '../../src/errors.js';
import { verifyWebhookSignature as verifyFromPackage } from '../../src/index.js';
import { enqueueAsset, jobIdFor, waitForResult } from '../../src/queue/client.js';
import { createWebhookSink } from '../../src/sinks/webhook.js';
import { signWebhookBody, verifyWebhookSignature } from '../../src/sinks/webhook-signature.js';
import { startWorker, type RunningWorker } from '../../workers/metadata-worker.js';
import { fixturesDir } from '../helpers/fixtures.js';
import { closeQueue, freshTempDir, openQueue, redisUrl, uniqueName } from '../helpers/services.js';
import { captureLogs, startAssetServer, testConfig, type AssetServer } from '../observability/harness.js';

const secret = 'whsec-test-0123456789abcdef';

interface Delivery {
  body: Buffer;
  headers: IncomingHttpHeaders;
}

/** A receiver that answers each POST with the next status of `statuses` (the last one repeats). */
async function startReceiver(statuses: number[], options: { hang?: boolean } = {}) {
  const deliveries: Delivery[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      deliveries.push({ body: Buffer.concat(chunks), headers: req.headers });
      if (options.hang) return;
      const status = statuses[Math.min(deliveries.length - 1, statuses.length - 1)]!;
      res.writeHead(status, status === 302 ? { location: `http://127.0.0.1:${port}/elsewhere` } : {}).end(status < 300 ? 'ok' : 'no');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/hooks/assets`,
    deliveries,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

const sample: AssetResult = {
  schemaVersion: 1,
  assetId: 'hook/1',
  status: 'ok',
  dataType: 'text',
  mimeType: 'text/plain',
  sizeBytes: 3,
  sha256: 'a'.repeat(64),
  text: { encoding: 'utf-8', bom: false, charCount: 3, lineCount: 1, format: 'plain' },
  timingsMs: { sign: 0, download: 1, extract: 2, total: 3 },
  processedAt: '2026-01-01T00:00:00.000Z',
};

describe('signature', () => {
  const body = JSON.stringify(sample);
  const header = signWebhookBody(body, secret);

  it('is sha256=<hex HMAC-SHA256 of the body>, as the contract fixes', () => {
    expect(header).toMatch(/^sha256=[0-9a-f]{64}$/);
    // A known vector, computed independently: printf %s 'hello' | openssl dgst -sha256 -hmac key
    expect(signWebhookBody('hello', 'key')).toBe('sha256=9307b3b915efb5171ff14d8cb55fbcc798c6c0ef1456d66ded1a6aa723a58b7b');
  });

  it('verifies the body, as a string or as bytes, and the package exports the helper', () => {
    expect(verifyWebhookSignature(body, header, secret)).toBe(true);
    expect(verifyWebhookSignature(Buffer.from(body), header, secret)).toBe(true);
    expect(verifyFromPackage(body, header, secret)).toBe(true);
  });

  it('rejects a tampered body, another secret and malformed headers', () => {
    expect(verifyWebhookSignature(body.replace('"ok"', '"failed"'), header, secret)).toBe(false);
    expect(verifyWebhookSignature(`${body} `, header, secret)).toBe(false);
    expect(verifyWebhookSignature(body, header, `${secret}x`)).toBe(false);
    for (const bad of [undefined, '', 'sha256=', header.slice(7), `sha1=${header.slice(7)}`, `${header}00`, header.slice(0, -2), `sha256=${'z'.repeat(64)}`]) {
      expect(verifyWebhookSignature(body, bad, secret), String(bad)).toBe(false);
    }
  });
});

describe('webhook sink', () => {
  it('POSTs the result as JSON with a signature that verifies on the bytes received', async () => {
    const receiver = await startReceiver([204]);
    try {
      await createWebhookSink({ url: receiver.url, secret, timeoutMs: 2_000 }).save(sample, { attempt: 1 });
      expect(receiver.deliveries).toHaveLength(1);
      const [d] = receiver.deliveries;
      expect(d!.headers['content-type']).toBe('application/json');
      expect(verifyWebhookSignature(d!.body, d!.headers['x-signature'] as string, secret)).toBe(true);
      expect(JSON.parse(d!.body.toString())).toEqual(sample);
    } finally {
      await receiver.close();
    }
  });

  it.each([[500], [503], [401], [404], [302]])('HTTP %i is a failure to deliver (RESULT_SINK_UNAVAILABLE), redirects not followed', async (status) => {
    const receiver = await startReceiver([status]);
    try {
      // A token in the webhook URL's query string must not appear in the error (it is saved and logged).
      const sink = createWebhookSink({ url: `${receiver.url}?key=hooktoken99`, secret, timeoutMs: 2_000 });
      const err = await sink.save(sample, { attempt: 1 }).then(() => undefined, (e: unknown) => e);
      expect(err).toBeInstanceOf(ResultSinkUnavailableError);
      expect(err).toMatchObject({ code: 'RESULT_SINK_UNAVAILABLE', retriable: true });
      expect((err as Error).message).toBe(`webhook POST to ${receiver.url}?[redacted] answered HTTP ${status}`);
      expect(receiver.deliveries).toHaveLength(1);
    } finally {
      await receiver.close();
    }
  });

  it('a receiver that does not answer in time is a failure to deliver', async () => {
    const receiver = await startReceiver([200], { hang: true });
    try {
      const started = performance.now();
      const err = await createWebhookSink({ url: receiver.url, secret, timeoutMs: 300 }).save(sample, { attempt: 1 }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ResultSinkUnavailableError);
      expect((err as Error).message).toMatch(/no answer within 300 ms/);
      expect(performance.now() - started).toBeLessThan(2_000);
    } finally {
      await receiver.close();
    }
  });

  it('a refused connection is a failure to deliver, with the reason', async () => {
    const receiver = await startReceiver([200]);
    await receiver.close();
    const err = await createWebhookSink({ url: receiver.url, secret, timeoutMs: 2_000 }).save(sample, { attempt: 1 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ResultSinkUnavailableError);
    expect((err as Error).message).toMatch(/ECONNREFUSED/);
  });
});

describe('webhook sink through the queue', () => {
  const queueName = uniqueName('hook');
  const tmp = freshTempDir();
  const png = readFileSync(`${fixturesDir}/image/png-alpha.png`);
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  let assets: AssetServer;
  let worker: RunningWorker;
  let connection: Redis;
  let queue: Queue;

  beforeAll(async () => {
    receiver = await startReceiver([500, 500, 200]);
    assets = await startAssetServer({ '/img.png': png }, 'sig=unused');
    const config = testConfig({
      REDIS_URL: redisUrl,
      QUEUE_NAME: queueName,
      TMP_DIR: tmp.dir,
      RESULT_SINKS: 'webhook',
      WEBHOOK_URL: receiver.url,
      WEBHOOK_SECRET: secret,
      WEBHOOK_TIMEOUT_MS: '2000',
    });
    worker = await startWorker(config, captureLogs('silent').logger);
    ({ connection, queue } = openQueue(queueName));
  });

  afterAll(async () => {
    await worker?.close();
    await closeQueue(queue, connection);
    await receiver?.close();
    await assets?.close();
    tmp.remove();
  });

  it('a receiver answering 500 twice, then 200, gets the result: the job waits, then is delivered', async () => {
    await enqueueAsset(queue, { assetId: 'hook/img', source: { type: 'url', url: `${assets.origin}/img.png` } });
    const job = await queue.getJob(jobIdFor('hook/img'));
    // Between the failed deliveries the job sits delayed, not failed.
    await expect.poll(async () => job!.getState(), { timeout: 10_000, interval: 50 }).toBe('delayed');
    const result = await waitForResult(queue, 'hook/img', { timeoutMs: 15_000 });
    expect(result).toMatchObject({ assetId: 'hook/img', status: 'ok', dataType: 'image', sizeBytes: png.length });

    expect(receiver.deliveries).toHaveLength(3);
    for (const d of receiver.deliveries) {
      expect(verifyWebhookSignature(d.body, d.headers['x-signature'] as string, secret)).toBe(true);
      expect(JSON.parse(d.body.toString())).toMatchObject({ assetId: 'hook/img', status: 'ok', image: { width: 5, height: 3 } });
    }
    // The finished result was kept in the job: the asset was downloaded once, not once per delivery.
    expect(assets.requests.filter((p) => p.startsWith('/img.png'))).toHaveLength(1);
    expect(JSON.parse(receiver.deliveries[2]!.body.toString())).toEqual(JSON.parse(JSON.stringify(result)));
  });
});
