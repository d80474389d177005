/**
 * The dashboard in a real headless Chromium (Debian's package, driven by playwright-core): bull-board shows
 * the queue and a job we ran, and the results page shows the latest results and failures by code, with
 * every value escaped. Screenshots land in the test's temp directory.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { enqueueAsset, jobIdFor, waitForResult } from '../../src/queue/client.js';
import { startWorker, type RunningWorker } from '../../workers/metadata-worker.js';
import { fixturesDir } from '../helpers/fixtures.js';
import { closeQueue, databaseUrl, dropSchema, freshTempDir, openQueue, redisUrl, uniqueName } from '../helpers/services.js';
import { captureLogs, get, startAssetServer, testConfig, type AssetServer } from './harness.js';

/** Debian's chromium package puts its launcher here. */
const chromiumPath = '/usr/bin/chromium';
const schema = uniqueName('t_dash');
const queueName = uniqueName('dash');
const tmp = freshTempDir();
const png = readFileSync(`${fixturesDir}/image/png-alpha.png`);
// An asset id with markup in it: the pages must show it as text.
const okId = 'dash/<b id="injected">bold</b>&"q"';

let assets: AssetServer;
let worker: RunningWorker;
let connection: Redis;
let queue: Queue;
let browser: Browser;
let page: Page;
let base: string;

beforeAll(async () => {
  if (!existsSync(chromiumPath)) {
    throw new Error(`Chromium is not installed at ${chromiumPath}: install Debian's "chromium" package (apt-get install chromium) to run the dashboard test`);
  }
  assets = await startAssetServer({ '/img.png': png }, 'sig=unused');
  const config = testConfig({
    REDIS_URL: redisUrl,
    DATABASE_URL: databaseUrl,
    DATABASE_SCHEMA: schema,
    QUEUE_NAME: queueName,
    TMP_DIR: tmp.dir,
    DASHBOARD_ENABLED: 'true',
  });
  worker = await startWorker(config, captureLogs('silent').logger, { listen: { host: '127.0.0.1', port: 0 } });
  base = worker.http!.url;
  ({ connection, queue } = openQueue(queueName));

  // A presigned URL in the job's data: bull-board must not show its query string.
  await enqueueAsset(queue, { assetId: okId, source: { type: 'url', url: `${assets.origin}/img.png?X-Amz-Signature=dashs1gnature&token=dasht0ken` } });
  for (const id of ['dash/missing-1', 'dash/missing-2']) {
    await enqueueAsset(queue, { assetId: id, source: { type: 'url', url: `${assets.origin}/${id}.png` } });
  }
  await enqueueAsset(queue, { assetId: 'dash/not-allowed', source: { type: 'url', url: 'http://10.255.255.1/x.png' } });
  expect((await waitForResult(queue, okId, { timeoutMs: 15_000 })).status).toBe('ok');
  for (const id of ['dash/missing-1', 'dash/missing-2', 'dash/not-allowed']) await waitForResult(queue, id, { timeoutMs: 15_000 });

  browser = await chromium.launch({
    executablePath: chromiumPath,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
});

afterAll(async () => {
  await browser?.close();
  await worker?.close();
  await closeQueue(queue, connection);
  await assets?.close();
  await dropSchema(schema);
  tmp.remove();
});

const screenshot = async (name: string) => {
  const file = path.join(tmp.dir, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  expect(statSync(file).size).toBeGreaterThan(5_000);
  return file;
};

describe('dashboard', () => {
  it('bull-board lists the queue and shows a job we ran, without its signed query string', async () => {
    await page.goto(`${base}/dashboard/queue/${encodeURIComponent(queueName)}?status=completed`);
    await page.getByRole('link', { name: queueName }).first().waitFor({ timeout: 15_000 });
    // bull-board shows the job id; the markup in it arrives as text, not as an element.
    await page.getByText(jobIdFor(okId), { exact: false }).first().waitFor({ timeout: 15_000 });
    expect(await page.locator('#injected').count()).toBe(0);
    // The job's data is shown, its URL without the query string.
    await page.getByText(`${assets.origin}/img.png?[redacted]`).first().waitFor({ timeout: 5_000 });
    const shown = await page.content();
    for (const leak of ['dashs1gnature', 'dasht0ken', 'X-Amz-Signature']) expect(shown).not.toContain(leak);
    await screenshot('bull-board-completed');
  });

  it('the results page shows the latest results and failures by code, escaped', async () => {
    const res = await page.goto(`${base}/dashboard/results`);
    expect(res?.status()).toBe(200);
    expect(res?.headers()['content-security-policy']).toContain("default-src 'none'");
    const failures = page.locator('#failures tbody tr');
    await expect.poll(() => failures.allInnerTexts()).toEqual(['NOT_FOUND\t2', 'URL_NOT_ALLOWED\t1']);
    await expect.poll(() => page.locator('#totals').innerText()).toBe('ok: 1 · failed: 3');

    const ok = page.locator('#latest tbody tr', { hasText: 'dash/<b id="injected">bold</b>&"q"' });
    expect(await ok.count()).toBe(1);
    expect(await ok.locator('td').allInnerTexts()).toEqual(expect.arrayContaining([okId, 'ok', 'image', String(png.length), '1']));
    expect(await page.locator('#injected').count()).toBe(0);
    const missing = page.locator('#latest tbody tr', { hasText: 'dash/missing-1' });
    expect(await missing.locator('td').nth(3).innerText()).toBe('NOT_FOUND');
    expect(await missing.locator('td').nth(4).innerText()).toMatch(/^object not found \(HTTP 404\) at http:\/\/127\.0\.0\.1:\d+\/dash\/missing-1\.png$/);
    await screenshot('results');

    await page.goto(`${base}/dashboard/results?status=failed`);
    expect(await page.locator('#latest tbody tr').count()).toBe(3);
  });

  it("bull-board's API answers job data without URL query strings", async () => {
    const api = await get(`${base}/dashboard/api/queues?activeQueue=${encodeURIComponent(queueName)}&status=completed&page=1&jobsPerPage=10`);
    expect(api.status).toBe(200);
    expect(api.text).toContain(`${assets.origin}/img.png?[redacted]`);
    expect(api.text).not.toContain('dashs1gnature');
  });

  it('the raw HTML escapes every value from the database', async () => {
    const html = (await get(`${base}/dashboard/results`)).text;
    expect(html).toContain('dash/&lt;b id=&quot;injected&quot;&gt;bold&lt;/b&gt;&amp;&quot;q&quot;');
    expect(html).not.toContain('<b id="injected">');
  });
});
