/**
 * The extraction pool: a run over EXTRACT_TIMEOUT_MS is killed (EXTRACT_TIMEOUT), a thread that runs out
 * of its heap fails its job (CORRUPT_ASSET), and either way the pool goes on with a fresh thread. The slow
 * and the hungry inputs are real: a long single-line text that takes a warm thread far longer than the
 * timeout to count, and pdf.js, whose loading alone needs more heap than a 32 MB thread has.
 */
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ExtractPool } from '../../src/extractors/isolate.js';
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

  it('a stray rejection inside pdf.js does not end the thread: the job gets the parser’s own answer', async () => {
    // Found by the fuzz campaign: 211 zeroed bytes over the page objects of linearized.pdf make pdf.js
    // reject an internal promise nobody awaits ("Bad (uncompressed) XRef entry").
    const broken = path.join(tmp.dir, 'zeroed-pages.pdf');
    writeFileSync(broken, readFileSync(path.join(fixturesDir, 'pdf/linearized.pdf')).fill(0, 1065, 1276));
    const pool = new ExtractPool(1, 256);
    try {
      const err = await pool.run(broken, testExtractConfig()).catch((e: Error) => e);
      expect(err).toMatchObject({ code: 'CORRUPT_ASSET', message: expect.stringMatching(/^cannot read pdf: /) });
      await expect(pool.run(png, testExtractConfig())).resolves.toMatchObject({ dataType: 'image' });
    } finally {
      await pool.close();
    }
  });

  it('refuses work once closed', async () => {
    const pool = new ExtractPool(1, 256);
    await pool.close();
    await expect(pool.run(png, testExtractConfig())).rejects.toThrow(/closed/);
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
