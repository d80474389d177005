/**
 * A short, seeded mutation campaign over every fixture (scripts/fuzz.ts has the mutators and the long
 * campaign, `npm run fuzz`). Each mutated input runs through the production extraction pool and must end
 * ok with a section the contract accepts, or with a contract code, within its timeout: no thread crash, no
 * heap exhaustion, no late answer, no unhandled rejection.
 */
import { describe, expect, it } from 'vitest';
import { allowedOutcome, cases, listFuzzFixtures, mutate, mutationKinds, prng, runCampaign } from '../scripts/fuzz.js';
import { testExtractConfig } from './helpers/fixtures.js';

const seed = 20_260_401;
const perFixture = 2;

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

describe(`fuzz: every fixture × ${perFixture} mutations (seed ${seed})`, () => {
  it('every case ends ok or with a contract code, in time, and nothing crashes', async () => {
    const fixtures = listFuzzFixtures();
    const report = await runCampaign({
      seed,
      perFixture,
      durationMs: 0,
      concurrency: 2,
      fixtures,
      // Generous: a cold thread's first PDF loads pdf.js inside the job, which takes seconds under the
      // test runner's TypeScript loader on a busy machine. Real hangs are the long campaign's business.
      config: testExtractConfig({ timeoutMs: 20_000 }),
    });
    console.info(`fuzz: ${report.inputs} inputs in ${report.wallMs} ms: ${JSON.stringify(report.counts)}; slowest ${report.slowestMs} ms; peak RSS ${report.peakRssMb} MiB`);
    expect(report.inputs).toBe(fixtures.length * perFixture);
    expect(report.findings).toEqual([]);
    expect(report.unhandledRejections).toBe(0);
    expect(Object.keys(report.counts).every(allowedOutcome)).toBe(true);
    // The mutations reach past detection: some inputs still read as ok, some are refused as corrupt.
    expect(report.counts.ok ?? 0).toBeGreaterThan(0);
    expect(report.counts.CORRUPT_ASSET ?? 0).toBeGreaterThan(0);
  }, 180_000);
});
