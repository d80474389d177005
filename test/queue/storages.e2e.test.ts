/**
 * Jobs for objects in every storage kind end as saved results in one run: Azurite (azure), the
 * development S3 server (s3) and the GCS stand-in (gcs), one worker replica with all three configured,
 * Redis (fresh queue) and PostgreSQL (fresh schema). Also: no credential or signed URL leaves the worker:
 * not in job data, results, rows or log lines.
 */
import { generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { startAzurite, type Azurite } from '../helpers/azurite.js';
import { startS3Server, type S3Server } from '../../scripts/dev/s3-server.js';
import { createLogger } from '../../src/observability/logger.js';
import { enqueueAsset, jobIdFor, waitForResult } from '../../src/queue/client.js';
import { compareExpected, type Expected } from '../../src/replay/compare.js';
import { startWorker, type RunningWorker } from '../../workers/metadata-worker.js';
import { fixturesDir, listFixtures } from '../helpers/fixtures.js';
import { startGcsServer, type GcsServer } from '../helpers/gcs-server.js';
import { closeQueue, databaseUrl, dropSchema, freshTempDir, openQueue, queryRows, redisUrl, uniqueName } from '../helpers/services.js';

const schema = uniqueName('t_storages');
const queueName = uniqueName('storages');
const tmp = freshTempDir();
// A few fixtures of two types are enough: the extractors have their own suites.
const fixtures = [...listFixtures('image').slice(0, 2), ...listFixtures('text').slice(0, 1)];
const kinds = ['azure', 's3', 'gcs'] as const;

const gcsEmail = 'asset-reader@test-project.iam.gserviceaccount.com';
const gcsKey = generateKeyPairSync('rsa', { modulusLength: 2048 });
const gcsPrivatePem = gcsKey.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();

let azurite: Azurite;
let s3: S3Server;
let gcs: GcsServer;
let worker: RunningWorker;
let connection: Redis;
let queue: Queue;
const logLines: string[] = [];

beforeAll(async () => {
  [azurite, s3, gcs] = await Promise.all([startAzurite(), startS3Server(), startGcsServer(new Map([[gcsEmail, gcsKey.publicKey]]))]);
  await azurite.createContainer('assets');
  for (const file of fixtures) {
    const key = path.relative(fixturesDir, file);
    const body = readFileSync(file);
    await Promise.all([azurite.putBlob('assets', key, body), s3.putObject(key, body)]);
    gcs.put('assets', key, body);
  }

  const config = loadConfig({
    REDIS_URL: redisUrl,
    DATABASE_URL: databaseUrl,
    DATABASE_SCHEMA: schema,
    QUEUE_NAME: queueName,
    TMP_DIR: tmp.dir,
    HEALTH_PORT: '0',
    LOG_LEVEL: 'debug',
    WORKER_CONCURRENCY: '3',
    AZ_KEY: azurite.accountKey,
    S3_KEY: s3.accessKeyId,
    S3_SECRET: s3.secretAccessKey,
    GCS_KEY_JSON: JSON.stringify({ type: 'service_account', client_email: gcsEmail, private_key: gcsPrivatePem }),
    STORAGES: JSON.stringify([
      { id: 'azure', kind: 'azure', account: azurite.account, container: 'assets', endpoint: azurite.endpoint, accountKeyEnv: 'AZ_KEY', urlTtlSeconds: 60 },
      { id: 's3', kind: 's3', bucket: s3.bucket, region: s3.region, endpoint: s3.endpoint, forcePathStyle: true, accessKeyIdEnv: 'S3_KEY', secretAccessKeyEnv: 'S3_SECRET', urlTtlSeconds: 60 },
      { id: 'gcs', kind: 'gcs', bucket: 'assets', endpoint: gcs.endpoint, credentialsJsonEnv: 'GCS_KEY_JSON', urlTtlSeconds: 60 },
    ]),
  });
  const logs = new Writable({
    write(chunk: Buffer, _enc, done) {
      logLines.push(...chunk.toString().split('\n').filter(Boolean));
      done();
    },
  });
  worker = await startWorker(config, createLogger('debug', logs));
  ({ connection, queue } = openQueue(queueName));
});

afterAll(async () => {
  await worker?.close();
  await closeQueue(queue, connection);
  await Promise.all([azurite?.close(), s3?.close(), gcs?.close()]);
  await dropSchema(schema);
  tmp.remove();
});

const cases = kinds.flatMap((kind) => fixtures.map((file) => [kind, path.relative(fixturesDir, file), file] as const));

describe('jobs for objects in every storage kind', () => {
  it('end as saved results in the same run', async () => {
    await Promise.all(cases.map(([kind, key]) => enqueueAsset(queue, { assetId: `${kind}/${key}`, source: { type: 'storage', storageId: kind, key } })));
    await enqueueAsset(queue, { assetId: 'azure/missing', source: { type: 'storage', storageId: 'azure', key: 'no/such/blob.jpg' } });

    for (const [kind, key, file] of cases) {
      const result = await waitForResult(queue, `${kind}/${key}`, { timeoutMs: 30_000 });
      const expected = JSON.parse(readFileSync(`${file}.expected.json`, 'utf8')) as Expected;
      expect(compareExpected(expected, result), `${kind}/${key}`).toEqual([]);
    }
    expect((await waitForResult(queue, 'azure/missing', { timeoutMs: 30_000 })).error?.code).toBe('NOT_FOUND');

    const rows = await queryRows<{ asset_id: string; status: string; size_bytes: string }>(
      `SELECT asset_id, status, size_bytes FROM ${schema}.asset_metadata ORDER BY asset_id`,
    );
    const byId = new Map(rows.map((r) => [r.asset_id, r]));
    for (const [kind, key, file] of cases) {
      expect(byId.get(`${kind}/${key}`)?.status, `${kind}/${key}`).toBe('ok');
      expect(Number(byId.get(`${kind}/${key}`)?.size_bytes)).toBe(readFileSync(file).length);
    }
    expect(byId.get('azure/missing')?.status).toBe('failed');
  });

  it('no credential or signature is in job data, results, rows or logs', async () => {
    const jobs = await Promise.all([...cases.map(([kind, key]) => `${kind}/${key}`), 'azure/missing'].map((id) => queue.getJob(jobIdFor(id))));
    const rows = await queryRows(`SELECT * FROM ${schema}.asset_metadata`);
    const everything = [
      ...jobs.map((j) => JSON.stringify({ data: j?.data, returnvalue: j?.returnvalue, failedReason: j?.failedReason })),
      JSON.stringify(rows),
      ...logLines,
    ].join('\n');
    expect(logLines.some((l) => l.includes('"msg":"job"'))).toBe(true);
    const secrets = [azurite.accountKey, s3.secretAccessKey, gcsPrivatePem.split('\n')[5]!];
    for (const secret of secrets) expect(everything).not.toContain(secret);
    // Signed URLs carry their signature in the query: none may be kept or logged.
    expect(everything).not.toMatch(/X-Amz-Signature=|X-Goog-Signature=|[?&]sig=/);
  });
});
