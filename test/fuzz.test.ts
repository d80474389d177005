/**
 * A short, seeded mutation campaign over every fixture and a generated DICOM seed with planted patient
 * identifiers (scripts/fuzz.ts has the mutators and the long campaign, `npm run fuzz`). Each mutated input
 * runs through the production extraction pool and must end ok with a section the contract accepts, or
 * with a contract code, within its timeout: no worker fault, no heap exhaustion, no late answer, no
 * unhandled rejection, no planted identifier in any output.
 */
import { describe, expect, it } from 'vitest';
import { allowedOutcome, cases, listFuzzFixtures, mutate, mutationKinds, prng, runCampaign } from '../scripts/fuzz.js';
import { dicomMutationKinds, mutateDicom, phiSeed, seedBytes } from '../scripts/fuzz/dicom-mutator.js';
import { findLeaks } from '../scripts/fuzz/phi-leaks.js';
import { testExtractConfig } from './helpers/fixtures.js';

const seed = 20_260_401;
const perFixture = 2;
/** DICOM structure mutations of the planted-identifier seed. */
const dicomSeed = 12;

describe('mutators', () => {
  it('are deterministic for a seed', () => {
    const fixtures = listFuzzFixtures().slice(0, 10);
    const digest = (s: number) => [...cases(prng(s), fixtures, 3)].map((c) => `${c.kind}:${c.bytes.toString('base64')}`);
    expect(digest(7)).toEqual(digest(7));
    expect(digest(7)).not.toEqual(digest(8));
  });

  it.each(mutationKinds)('%s changes its input (and never throws on an empty one)', (kind) => {
    const rng = prng(1);
    const input = Buffer.from('%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n'.repeat(20));
    const other = Buffer.from('\x89PNG\r\n\x1a\n0000IHDR'.repeat(10), 'binary');
    const changed = Array.from({ length: 20 }, () => mutate(rng, kind, input, other)).filter((b) => !b.equals(input));
    expect(changed.length).toBeGreaterThan(10);
    expect(() => mutate(rng, kind, Buffer.alloc(0), other)).not.toThrow();
  });
});

describe('DICOM structure mutators', () => {
  it.each(dicomMutationKinds)('%s changes the seed, and keeps its identifiers in the input', (kind) => {
    const rng = prng(3);
    const seed = phiSeed();
    const original = seedBytes(seed);
    for (let i = 0; i < 5; i++) {
      const bytes = mutateDicom(rng, kind, seed);
      expect(bytes.equals(original)).toBe(false);
      expect(findLeaks(bytes.toString('latin1'), { PatientID: 'PID-7Q3X9K4W2M' })).toContain('PatientID as text');
    }
  });
});

describe('the leak check', () => {
  // 'Doe^Jane' is 44 6f 65 5e 4a 61 6e 65; in base64 "RG9lXkph" from a group boundary, "ZV5KYW5l" after one
  // byte in front (00 44 6f | 65 5e 4a | 61 6e 65).
  const secret = { PatientName: 'Doe^Jane' };
  it.each([
    ['text', '{"error":{"message":"cannot read: Doe^Jane"}}', 'PatientName as text'],
    ['a JSON byte array', '{"data":[0,68,111,101,94,74,97,110,101,0]}', 'PatientName as byte list'],
    ['an inspected array', '[ 68, 111, 101, 94, 74, 97, 110, 101 ]', 'PatientName as byte list with spaces'],
    ['hex', 'bytes 00446F655E4A616E6500', 'PatientName as hex'],
    ['an inspected Buffer', '<Buffer 44 6f 65 5e 4a 61 6e 65>', 'PatientName as spaced hex'],
    ['base64 on a group boundary', 'xxxxRG9lXkphbmU=', 'PatientName as base64'],
    ['base64 one byte in', 'AERvZV5KYW5l', 'PatientName as base64'],
  ])('finds %s', (_, output, expected) => {
    expect(findLeaks(output, secret)).toContain(expected);
  });

  it('finds nothing in an output without it', () => {
    expect(findLeaks('{"error":{"code":"CORRUPT_ASSET","message":"cannot read dicom: Maximum call stack size exceeded"}}', secret)).toEqual([]);
  });
});

describe(`fuzz: every fixture and the DICOM seed × ${perFixture} mutations, ${dicomSeed} DICOM structure mutations (seed ${seed})`, () => {
  it('every case ends ok or with a contract code, in time, and nothing crashes', async () => {
    const fixtures = listFuzzFixtures();
    const report = await runCampaign({
      seed,
      perFixture,
      dicomSeed,
      durationMs: 0,
      concurrency: 2,
      fixtures,
      // Generous: a cold thread's first PDF loads pdf.js inside the job, which takes seconds under the
      // test runner's TypeScript loader on a busy machine. Real hangs are the long campaign's business.
      config: testExtractConfig({ timeoutMs: 20_000 }),
    });
    console.info(`fuzz: ${report.inputs} inputs in ${report.wallMs} ms: ${JSON.stringify(report.counts)}; slowest ${report.slowestMs} ms; peak RSS ${report.peakRssMb} MiB`);
    // The DICOM seed is one more input for the byte-level mutators.
    expect(report.inputs).toBe((fixtures.length + 1) * perFixture + dicomSeed);
    expect(dicomMutationKinds.reduce((n, kind) => n + report.byKind[kind], 0)).toBe(dicomSeed);
    expect(report.findings).toEqual([]);
    expect(report.unhandledRejections).toBe(0);
    expect(Object.keys(report.counts).every(allowedOutcome)).toBe(true);
    // The mutations reach past detection: some inputs still read as ok, some are refused as corrupt.
    expect(report.counts.ok ?? 0).toBeGreaterThan(0);
    expect(report.counts.CORRUPT_ASSET ?? 0).toBeGreaterThan(0);
  }, 180_000);
});
