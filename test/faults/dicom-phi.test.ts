/**
 * A DICOM file that fails to parse deep inside, with made-up patient identifiers in front of the failure,
 * through a real replica: the failure is saved with a short message, and no identifier, in any encoding,
 * reaches anything the worker writes: the result row, the job's log lines (or any other line it prints),
 * or anything BullMQ keeps in Redis for the queue (the job's failedReason, data.failedResult and
 * stacktrace, the events stream). The same failure with a 45 MB private element in front once aborted the
 * whole replica (its data set serialised into the message ran V8 out of heap); the replica must live on.
 */
import type { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { element, nestedSequences, part10Header, patientModule, plantedPhi } from '../../scripts/fuzz/dicom-writer.js';
import { findLeaks } from '../../scripts/fuzz/phi-leaks.js';
import { maxErrorMessageBytes } from '../../src/errors.js';
import { enqueueAsset, jobIdFor, waitForResult } from '../../src/queue/client.js';
import { redisUrl } from '../helpers/services.js';
import { startWorkerProcess, type WorkerProcess } from '../helpers/worker-process.js';
import { fixtureKey, jobLines, startHarness, type Harness } from './harness.js';

let h: Harness;
let w: WorkerProcess;
/** A connection of the test's own, to read what BullMQ keeps. */
let redis: Redis;

/** Modality, the patient module, then 10,000 closed nested sequences: dicom-parser runs out of stack. */
const deep = () => [part10Header(), element([0x0008, 0x0060], 'CS', 'OT'), patientModule(), nestedSequences([0x0040, 0xa730], 10_000)];
/** The same with a 45 MiB private element (group 0009) in front of the patient module. */
const deepBehind45Mb = () => {
  const [header, modality, ...rest] = deep();
  const creator = element([0x0009, 0x0010], 'LO', 'EXAMPLE PRIVATE');
  return [header!, modality!, creator, element([0x0009, 0x1001], 'OB', Buffer.alloc(45 * 1024 * 1024, 0x41)), ...rest];
};

beforeAll(async () => {
  h = await startHarness({ name: 'dicomphi' });
  redis = new Redis(redisUrl);
  await h.s3.putObject('dicom/deep.dcm', Buffer.concat(deep()));
  await h.s3.putObject('dicom/deep-behind-45mb.dcm', Buffer.concat(deepBehind45Mb()));
  w = startWorkerProcess(h.env({ WORKER_CONCURRENCY: '1' }));
  await w.ready(60_000);
}, 120_000);

afterAll(async () => {
  redis?.disconnect();
  await h?.close();
});

/** Every value of every key the queue has in Redis, as text: hashes, streams, lists, sets, strings. */
async function redisDump(queue: Queue): Promise<string> {
  const client = redis;
  const keys = await client.keys(`${queue.toKey('')}*`);
  const values: unknown[] = [];
  for (const key of keys) {
    const type = await client.type(key);
    if (type === 'hash') values.push(await client.hgetall(key));
    else if (type === 'stream') values.push(await client.xrange(key, '-', '+'));
    else if (type === 'list') values.push(await client.lrange(key, 0, -1));
    else if (type === 'zset') values.push(await client.zrange(key, '0', '-1'));
    else if (type === 'set') values.push(await client.smembers(key));
    else if (type === 'string') values.push(await client.get(key));
  }
  return `${keys.join('\n')}\n${JSON.stringify(values)}`;
}

describe.each([
  ['10,000 nested sequences after the patient module', 'dicom/deep.dcm', 'phi/deep'],
  ['the same behind a 45 MB private element', 'dicom/deep-behind-45mb.dcm', 'phi/deep-behind-45mb'],
])('a DICOM that fails to parse: %s', (_, key, assetId) => {
  it('is saved as CORRUPT_ASSET with a short message, and no identifier lands anywhere', async () => {
    await enqueueAsset(h.queue, { assetId, source: { type: 'storage', storageId: 'main', key } });
    const result = await waitForResult(h.queue, assetId, { timeoutMs: 60_000 });
    const message = 'cannot read dicom: Maximum call stack size exceeded';
    expect(result).toMatchObject({ status: 'failed', dataType: 'dicom', error: { code: 'CORRUPT_ASSET', retriable: false, message } });

    const job = await redis.hgetall(h.queue.toKey(jobIdFor(assetId)));
    expect(job.failedReason).toBe(`CORRUPT_ASSET: ${message}`);
    expect(JSON.parse(job.data!).failedResult.error.message).toBe(message);
    // One attempt, one stack: a few frames under the bounded message.
    expect(JSON.parse(job.stacktrace!)).toHaveLength(1);
    expect(job.stacktrace!.length).toBeLessThan(maxErrorMessageBytes + 4_096);

    expect(jobLines([w], assetId).map((l) => [l.code, l.next, l.error])).toEqual([['CORRUPT_ASSET', 'done', message]]);
    const rows = await h.rows(assetId);
    expect(rows).toMatchObject([{ status: 'failed', error_code: 'CORRUPT_ASSET' }]);

    const outputs = [JSON.stringify(result), JSON.stringify(rows), await redisDump(h.queue), ...w.logs.map((l) => JSON.stringify(l)), ...w.stderr].join('\n');
    expect(findLeaks(outputs, plantedPhi)).toEqual([]);
  }, 120_000);

  it('leaves the replica running: the next job is served', async () => {
    expect(w.child.exitCode).toBeNull();
    expect(w.child.signalCode).toBeNull();
    const next = `${assetId}/next`;
    await enqueueAsset(h.queue, { assetId: next, source: { type: 'storage', storageId: 'main', key: fixtureKey('image', 'png-alpha.png') } });
    expect(await waitForResult(h.queue, next, { timeoutMs: 60_000 })).toMatchObject({ status: 'ok', image: { width: 5, height: 3 } });
  }, 120_000);
});

it('the test files carry the identifiers (the searches above can find them)', () => {
  for (const parts of [deep(), deepBehind45Mb()]) {
    const text = Buffer.concat(parts).toString('latin1');
    expect(findLeaks(text, plantedPhi)).toEqual(['PatientName as text', 'PatientID as text', 'PatientBirthDate as text']);
  }
  // What the old message held: the data set serialised, its bytes as a JSON byte list.
  expect(findLeaks(JSON.stringify({ dataSet: { byteArray: patientModule() } }), plantedPhi)).toEqual([
    'PatientName as byte list',
    'PatientID as byte list',
    'PatientBirthDate as byte list',
  ]);
});
