/**
 * The extraction pool: a run over EXTRACT_TIMEOUT_MS is killed (EXTRACT_TIMEOUT), a thread that runs out
 * of its heap fails its job (CORRUPT_ASSET), a thread's unexpected error fails its job as a worker fault,
 * and either way the pool goes on with a fresh thread. The slow and the hungry inputs are real: a long
 * single-line text that takes a warm thread far longer than the timeout to count, and pdf.js, whose
 * loading alone needs more heap than a 32 MB thread has. Faults no known input makes are injected into
 * the threads by thread-faults.mjs.
 */
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { element, nestedSequences, part10Header, patientModule, plantedPhi } from '../../scripts/fuzz/dicom-writer.js';
import { findLeaks } from '../../scripts/fuzz/phi-leaks.js';
import { isWorkerFault, maxErrorMessageBytes, type AssetError } from '../../src/errors.js';
import { ExtractPool } from '../../src/extractors/pool/isolate.js';
import { fixturesDir, testExtractConfig } from '../helpers/fixtures.js';
import { freshTempDir } from '../helpers/services.js';

const tmp = freshTempDir();
const bigText = path.join(tmp.dir, 'one-line.txt');
const png = path.join(fixturesDir, 'image/png-alpha.png');
const text = path.join(fixturesDir, 'text/ascii-lf.txt');
const pdf = path.join(fixturesDir, 'pdf/mixed-sizes.pdf');

beforeAll(() => {
  // 20 MB on one line: a warm thread needs a few hundred ms to count it, far more than the 30 ms allowed below.
  writeFileSync(bigText, Buffer.alloc(20 * 1024 * 1024, 'a'));
});
afterAll(() => tmp.remove());

describe('ExtractPool', () => {
  it('kills a run over its timeout with EXTRACT_TIMEOUT, then serves the next job with a fresh thread', async () => {
    const pool = new ExtractPool(1, 256);
    try {
      // Warm the one thread (its start-up is not what the timeout is about).
      await expect(pool.run(text, testExtractConfig())).resolves.toMatchObject({ dataType: 'text' });
      const started = Date.now();
      await expect(pool.run(bigText, testExtractConfig({ timeoutMs: 30 }))).rejects.toMatchObject({ code: 'EXTRACT_TIMEOUT', retriable: false });
      expect(Date.now() - started).toBeLessThan(1_000);
      await expect(pool.run(png, testExtractConfig())).resolves.toMatchObject({ dataType: 'image', section: { width: 5, height: 3 } });
    } finally {
      await pool.close();
    }
  });

  it('jobs waiting behind a killed run get the replacement thread', async () => {
    const pool = new ExtractPool(1, 256);
    try {
      await pool.run(text, testExtractConfig());
      const outcomes = await Promise.allSettled([
        pool.run(bigText, testExtractConfig({ timeoutMs: 30 })),
        pool.run(png, testExtractConfig()),
        pool.run(text, testExtractConfig()),
      ]);
      expect(outcomes.map((o) => (o.status === 'fulfilled' ? o.value.dataType : (o.reason as { code: string }).code))).toEqual([
        'EXTRACT_TIMEOUT',
        'image',
        'text',
      ]);
    } finally {
      await pool.close();
    }
  });

  it('a thread out of heap fails its job with CORRUPT_ASSET and the pool goes on', async () => {
    const pool = new ExtractPool(1, 32);
    const config = testExtractConfig({ maxHeapMb: 32 });
    try {
      await expect(pool.run(pdf, config)).rejects.toMatchObject({ code: 'CORRUPT_ASSET', message: expect.stringMatching(/ran out of its 32 MB heap/) });
      await expect(pool.run(png, config)).resolves.toMatchObject({ dataType: 'image' });
      await expect(pool.run(text, config)).resolves.toMatchObject({ dataType: 'text' });
    } finally {
      await pool.close();
    }
  });

  it('a fresh thread’s start-up is not charged to its job, nor a replacement’s to the next one', async () => {
    // Loading a thread's modules takes longer than 300 ms here; counting its text takes a few.
    const pool = new ExtractPool(1, 256);
    try {
      await expect(pool.run(text, testExtractConfig({ timeoutMs: 300 }))).resolves.toMatchObject({ dataType: 'text' });
      await expect(pool.run(bigText, testExtractConfig({ timeoutMs: 30 }))).rejects.toMatchObject({ code: 'EXTRACT_TIMEOUT' });
      await expect(pool.run(text, testExtractConfig({ timeoutMs: 300 }))).resolves.toMatchObject({ dataType: 'text' });
    } finally {
      await pool.close();
    }
  });

  it('stray rejections inside pdf.js just after its answer: the job keeps it, the fault is reported once, the pool goes on', async () => {
    // Found by the fuzz campaign: 211 zeroed bytes over the page objects of linearized.pdf make pdf.js
    // reject two internal promises nobody awaits ("Bad (uncompressed) XRef entry"), after the document's.
    const broken = path.join(tmp.dir, 'zeroed-pages.pdf');
    writeFileSync(broken, readFileSync(path.join(fixturesDir, 'pdf/linearized.pdf')).fill(0, 1065, 1276));
    const faults: string[] = [];
    const pool = new ExtractPool(1, 256, { onThreadFault: (m) => faults.push(m) });
    try {
      const err = await pool.run(broken, testExtractConfig()).catch((e: Error) => e);
      expect(err).toMatchObject({ code: 'CORRUPT_ASSET', message: expect.stringMatching(/^cannot read pdf: /) });
      await until(() => faults.length > 0);
      await expect(pool.run(png, testExtractConfig())).resolves.toMatchObject({ dataType: 'image' });
      expect(faults).toEqual([expect.stringMatching(/^extraction thread fault between jobs; the thread is replaced: unhandled rejection in an extraction thread: Bad \(uncompressed\) XRef entry/)]);
    } finally {
      await pool.close();
    }
  });

  it('refuses work once closed', async () => {
    const pool = new ExtractPool(1, 256);
    await pool.close();
    await expect(pool.run(png, testExtractConfig())).rejects.toThrow(/closed/);
  });

  it('with remove, the file is gone once the run settles: read, refused, killed over its time, or turned away by a closed pool', async () => {
    const copy = (from: string, name: string) => {
      const file = path.join(tmp.dir, name);
      copyFileSync(from, file);
      return file;
    };
    const pool = new ExtractPool(1, 256);
    const late = copy(png, 'late.png');
    try {
      const read = copy(png, 'read.png');
      await expect(pool.run(read, testExtractConfig(), true)).resolves.toMatchObject({ dataType: 'image' });
      expect(existsSync(read)).toBe(false);
      // Bytes of no known type, and not text: control bytes only.
      const refused = path.join(tmp.dir, 'refused.bin');
      writeFileSync(refused, Buffer.alloc(256, 0x01));
      await expect(pool.run(refused, testExtractConfig(), true)).rejects.toMatchObject({ code: 'UNSUPPORTED_TYPE' });
      expect(existsSync(refused)).toBe(false);
      const slow = copy(bigText, 'slow.txt');
      await expect(pool.run(slow, testExtractConfig({ timeoutMs: 30 }), true)).rejects.toMatchObject({ code: 'EXTRACT_TIMEOUT' });
      expect(existsSync(slow)).toBe(false);
      // Without remove, the file is the caller's.
      const kept = copy(png, 'kept.png');
      await pool.run(kept, testExtractConfig());
      expect(existsSync(kept)).toBe(true);
    } finally {
      await pool.close();
    }
    await expect(pool.run(late, testExtractConfig(), true)).rejects.toThrow(/closed/);
    expect(existsSync(late)).toBe(false);
  });
  it('warm starts every thread with every extractor loaded: a first PDF then needs no pdf.js start-up', async () => {
    const pool = new ExtractPool(2, 256);
    try {
      expect(await pool.warm()).toEqual([]);
      // Loading pdf.js alone takes a thread several hundred ms of CPU; both threads already have it.
      const config = testExtractConfig({ timeoutMs: 250 });
      await expect(Promise.all([pool.run(pdf, config), pool.run(pdf, config)])).resolves.toMatchObject([{ dataType: 'pdf' }, { dataType: 'pdf' }]);
    } finally {
      await pool.close();
    }
  });

  it('a thread that cannot load every extractor in its heap is dropped by warm; jobs start lean ones', async () => {
    const pool = new ExtractPool(1, 32);
    try {
      const errors = await pool.warm();
      expect(errors).toHaveLength(1);
      expect(errors[0]).toMatchObject({ code: 'CORRUPT_ASSET', message: expect.stringMatching(/32 MB heap|exited/) });
      await expect(pool.run(png, testExtractConfig({ maxHeapMb: 32 }))).resolves.toMatchObject({ dataType: 'image' });
    } finally {
      await pool.close();
    }
  });

  it('probe reads, hashes and extracts a file in the thread, and keeps the size and digest when extraction fails', async () => {
    const hello = path.join(tmp.dir, 'hello.txt');
    const empty = path.join(tmp.dir, 'empty.bin');
    writeFileSync(hello, 'hello\n');
    writeFileSync(empty, '');
    const pool = new ExtractPool(1, 256);
    try {
      // sha256("hello\n") and sha256("") are the well-known digests (`printf 'hello\n' | sha256sum`).
      const ok = await pool.probe(hello, testExtractConfig());
      expect(ok.file).toMatchObject({ sizeBytes: 6, sha256: '5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03' });
      expect(ok.extracted).toMatchObject({ dataType: 'text', section: { lineCount: 1 } });
      expect(ok.error).toBeUndefined();
      const failed = await pool.probe(empty, testExtractConfig());
      expect(failed.file).toMatchObject({ sizeBytes: 0, sha256: 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855' });
      expect(failed.error).toMatchObject({ code: 'UNSUPPORTED_TYPE' });
      // Over the one-read size the file is hashed as a stream: the same digest as hashing its bytes at once.
      const bigDigest = createHash('sha256').update(readFileSync(bigText)).digest('hex');
      const big = await pool.probe(bigText, testExtractConfig());
      expect(big.file).toMatchObject({ sizeBytes: 20 * 1024 * 1024, sha256: bigDigest });
      expect(big.extracted).toMatchObject({ dataType: 'text', section: { lineCount: 1 } });
      // A killed run is an error too, not a rejection.
      const timedOut = await pool.probe(bigText, testExtractConfig({ timeoutMs: 30 }));
      expect(timedOut.error).toMatchObject({ code: 'EXTRACT_TIMEOUT' });
    } finally {
      await pool.close();
    }
  });
});

/** Polls `done` every 20 ms for up to 10 s. */
async function until(done: () => boolean): Promise<void> {
  for (let waited = 0; !done(); waited += 20) {
    if (waited > 10_000) throw new Error('condition not met in 10 s');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('a thread’s unexpected error', () => {
  const injector = pathToFileURL(path.join(path.dirname(fileURLToPath(import.meta.url)), 'thread-faults.mjs')).href;
  const faultyPool = (faults: string[]) => new ExtractPool(1, 256, { execArgv: ['--import', injector], onThreadFault: (m) => faults.push(m) });
  // An MPEG-TS file goes to ffprobe: the job waits on a process, so a rejection is seen while it runs.
  const video = path.join(fixturesDir, 'video/h264.ts');

  it.each([
    ['an uncaught exception', 'throw-during-job', 'uncaught exception in an extraction thread: injected exception'],
    ['an unhandled rejection', 'reject-during-job', 'unhandled rejection in an extraction thread: injected rejection'],
  ])('%s during a job fails that job at once as a retried worker fault; the next job gets a fresh thread', async (_, name, what) => {
    const file = path.join(tmp.dir, `${name}.ts`);
    copyFileSync(video, file);
    const faults: string[] = [];
    const pool = faultyPool(faults);
    try {
      await expect(pool.run(text, testExtractConfig())).resolves.toMatchObject({ dataType: 'text' });
      const started = Date.now();
      const err = await pool.run(file, testExtractConfig({ timeoutMs: 20_000 })).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'WORKER_FAULT', retriable: true, message: `worker fault (not the asset's): ${what}` });
      expect(isWorkerFault(err)).toBe(true);
      expect(Date.now() - started).toBeLessThan(10_000);
      await expect(pool.run(png, testExtractConfig())).resolves.toMatchObject({ dataType: 'image' });
      // The job's failure is its report: nothing is reported a second time.
      expect(faults).toEqual([]);
    } finally {
      await pool.close();
    }
  });

  it('a fault between jobs is reported once, the job before keeps its answer, and the pool goes on', async () => {
    const file = path.join(tmp.dir, 'reject-after-job.txt');
    copyFileSync(text, file);
    const faults: string[] = [];
    const pool = faultyPool(faults);
    try {
      await expect(pool.run(file, testExtractConfig())).resolves.toMatchObject({ dataType: 'text' });
      await until(() => faults.length > 0);
      await expect(pool.run(png, testExtractConfig())).resolves.toMatchObject({ dataType: 'image' });
      expect(faults).toEqual(['extraction thread fault between jobs; the thread is replaced: unhandled rejection in an extraction thread: injected late rejection']);
    } finally {
      await pool.close();
    }
  });
});

describe('a DICOM failure that carries a 45 MB data set', () => {
  it('fails with a short message and no identifier, and this process lives on', async () => {
    // A private element of 45 MiB in front of the patient module, then 10,000 nested sequences that
    // overflow dicom-parser's stack: it throws { exception: RangeError, dataSet } with all of it inside.
    // Serialising that data set aborted the whole process (V8 heap exhausted, exit 134).
    const file = path.join(tmp.dir, 'private-45mb.dcm');
    writeFileSync(
      file,
      Buffer.concat([
        part10Header(),
        element([0x0008, 0x0060], 'CS', 'OT'),
        element([0x0009, 0x0010], 'LO', 'EXAMPLE PRIVATE'),
        element([0x0009, 0x1001], 'OB', Buffer.alloc(45 * 1024 * 1024, 0x41)),
        patientModule(),
        nestedSequences([0x0040, 0xa730], 10_000),
      ]),
    );
    const pool = new ExtractPool(1, 256);
    try {
      const err = (await pool.run(file, testExtractConfig()).catch((e: unknown) => e)) as AssetError;
      expect(err).toMatchObject({ code: 'CORRUPT_ASSET', message: 'cannot read dicom: Maximum call stack size exceeded' });
      expect(Buffer.byteLength(err.message)).toBeLessThanOrEqual(maxErrorMessageBytes);
      expect(findLeaks(`${JSON.stringify(err)}\n${err.stack}`, plantedPhi)).toEqual([]);
      await expect(pool.run(png, testExtractConfig())).resolves.toMatchObject({ dataType: 'image' });
    } finally {
      await pool.close();
    }
  }, 60_000);
});
