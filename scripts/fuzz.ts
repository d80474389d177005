/**
 * Mutation fuzzing of detection + extraction (`npm run fuzz`). Every fixture is mutated (bit flips,
 * truncations, splices of two fixtures, header swaps, inserted and zeroed runs) with a seeded PRNG, so a
 * campaign is reproducible from its seed; so is a generated DICOM seed that carries made-up patient
 * identifiers, whose element structure is mutated too (deep nesting, undefined lengths, huge elements,
 * lengths that lie: fuzz/dicom-mutator.ts). Each case runs through the production extraction pool (worker
 * threads, heap limit, timeout kill) and must end ok with a section the contract accepts, or with a
 * contract error code, within its timeout, and with none of the planted identifiers, in any encoding, in
 * what would be saved and logged (the result, the failure's message and stack).
 *
 *   npm run fuzz -- [--seed N] [--iterations N] [--dicom N] [--minutes M] [--timeout-ms N] [--heap-mb N] [--keep DIR]
 *
 * --iterations is mutations per fixture per round (the DICOM seed is one more fixture); --dicom is DICOM
 * structure mutations per round (default 10 × iterations); rounds repeat until --minutes have passed
 * (default: one round). --keep saves every input that did not end as allowed, and every timeout, to
 * replay with `asset-meta probe`.
 * test/fuzz.test.ts runs a short campaign of the same code in the suite.
 */
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { AssetResultSchema } from '../src/contract.js';
import type { ExtractConfig } from '../src/config.js';
import { isAssetError, isWorkerFault, messageOf } from '../src/errors.js';
import { ExtractPool, threadStartTimeoutMs } from '../src/extractors/pool/isolate.js';
import { failedResult, okResult, zeroTimings } from '../src/result.js';
import { dicomMutationKinds } from './fuzz/dicom-mutator.js';
import { plantedPhi } from './fuzz/dicom-writer.js';
import { cases, mutationKinds, prng, type FuzzCase } from './fuzz/mutators.js';
import { findLeaks } from './fuzz/phi-leaks.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const fixturesRoot = path.join(root, 'fixtures');

/** Codes an extraction may end with (docs/contract.md §4; TOO_LARGE is a decompression cap, as DICOM deflate's); anything else is a finding. */
export const extractionCodes = new Set(['CORRUPT_ASSET', 'UNSUPPORTED_TYPE', 'ENCRYPTED_ASSET', 'EXTRACT_TIMEOUT', 'TOO_LARGE']);

export { cases, mutate, mutationKinds, phiSeedName, prng, type FuzzCase, type MutationKind } from './fuzz/mutators.js';

/** Every fixture file (not the expected.json beside it), sorted so that a seed means the same cases. */
export function listFuzzFixtures(dir = fixturesRoot): string[] {
  const out: string[] = [];
  for (const type of readdirSync(dir, { withFileTypes: true })) {
    if (!type.isDirectory()) continue;
    for (const f of readdirSync(path.join(dir, type.name))) {
      if (!f.endsWith('.expected.json')) out.push(path.join(dir, type.name, f));
    }
  }
  return out.sort();
}

/**
 * How a case ended. `ok` and the contract codes are allowed; `worker-fault` (an extraction thread's
 * unexpected error: an unhandled rejection, an uncaught exception, a crash), `out-of-heap`, `bad-section`
 * (ok, but the contract's schema refuses it), `unexpected-code`, `late` (settled after timeout + grace: the
 * kill did not work), `threw` (not a coded error) and `phi-leak` (a planted identifier in an output) are
 * findings.
 */
export type Outcome = string;
export const allowedOutcome = (o: Outcome) => o === 'ok' || extractionCodes.has(o);

type Ended = { outcome: Outcome; detail?: string };

function classified(err: unknown): Ended {
  if (!isAssetError(err)) return { outcome: 'threw', detail: messageOf(err) };
  if (isWorkerFault(err)) return { outcome: 'worker-fault', detail: err.message };
  if (err.code === 'CORRUPT_ASSET' && /ran out of its/.test(err.message)) return { outcome: 'out-of-heap', detail: err.message };
  return extractionCodes.has(err.code) ? { outcome: err.code, detail: err.message } : { outcome: 'unexpected-code', detail: `${err.code}: ${err.message}` };
}

/** What a failure leaves where operators and backends read it: the saved result (its message is also the job log line's and BullMQ's failedReason) and the stack BullMQ keeps. */
function failureOutputs(err: unknown): string {
  const coded = isAssetError(err) ? err : undefined;
  return coded ? `${JSON.stringify(failedResult('fuzz', coded, zeroTimings()))}\n${coded.stack ?? ''}` : messageOf(err);
}

/** `ended`, unless a planted identifier is in `outputs`: then the finding is the leak (forms named, never the values). */
function leakChecked(outputs: string, ended: Ended): Ended {
  const leaks = findLeaks(outputs, plantedPhi);
  return leaks.length ? { outcome: 'phi-leak', detail: `${leaks.join(', ')} (case was ${ended.outcome})` } : ended;
}

/**
 * How long past its timeout a case may take before it counts as `late`: a run first waits for a thread to
 * start (a killed one is replaced), which the pool bounds separately.
 */
export const lateGraceMs = threadStartTimeoutMs + 5_000;

export async function runCase(pool: ExtractPool, file: string, config: ExtractConfig, graceMs = lateGraceMs): Promise<{ outcome: Outcome; detail?: string; ms: number }> {
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<Ended>((resolve) => {
    timer = setTimeout(() => resolve({ outcome: 'late', detail: `no answer ${graceMs} ms after the timeout` }), config.timeoutMs + graceMs);
  });
  const run = pool.run(file, config).then(
    (extracted): Ended => {
      const result = okResult('fuzz', { sizeBytes: 0, sha256: '0'.repeat(64) }, extracted, zeroTimings());
      const parsed = AssetResultSchema.safeParse(result);
      const ended = parsed.success ? { outcome: 'ok' } : { outcome: 'bad-section', detail: parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ') };
      return leakChecked(JSON.stringify(result), ended);
    },
    (err: unknown) => leakChecked(failureOutputs(err), classified(err)),
  );
  try {
    return { ...(await Promise.race([run, late])), ms: performance.now() - started };
  } finally {
    clearTimeout(timer);
  }
}

type CaseKind = FuzzCase['kind'];
/** A fixture by its path under the repository; a generated seed by its name. */
const fixtureName = (f: string) => (path.isAbsolute(f) ? path.relative(root, f) : f);

export interface CampaignOptions {
  seed: number;
  perFixture: number;
  /** DICOM structure mutations of the planted-identifier seed per round; 0 also leaves the seed out. */
  dicomSeed?: number;
  /** Keep running rounds until this many ms have passed; 0 = one round. */
  durationMs: number;
  config: ExtractConfig;
  concurrency: number;
  fixtures?: string[];
  /** Where to save inputs whose outcome is not allowed. */
  keepDir?: string;
  onProgress?(done: number, counts: Map<Outcome, number>): void;
}

export interface CampaignReport {
  inputs: number;
  rounds: number;
  counts: Record<Outcome, number>;
  byKind: Record<CaseKind, number>;
  findings: { fixture: string; kind: CaseKind; outcome: Outcome; detail?: string; kept?: string }[];
  /** Allowed, but each is a job that held a thread for the whole timeout: worth a look. */
  timeouts: { fixture: string; kind: CaseKind; kept?: string }[];
  unhandledRejections: number;
  /** Faults threads reported between jobs (each retired its thread; no case failed): message → count. */
  threadFaults: Record<string, number>;
  slowestMs: number;
  peakRssMb: number;
  wallMs: number;
}

export async function runCampaign(options: CampaignOptions): Promise<CampaignReport> {
  const started = Date.now();
  const fixtures = options.fixtures ?? listFuzzFixtures();
  const work = mkdtempSync(path.join(os.tmpdir(), 'fuzz-'));
  const threadFaults: Record<string, number> = {};
  const onThreadFault = (message: string) => void (threadFaults[message] = (threadFaults[message] ?? 0) + 1);
  const pool = new ExtractPool(options.concurrency, options.config.maxHeapMb, { onThreadFault });
  const counts = new Map<Outcome, number>();
  const byKind = Object.fromEntries([...mutationKinds, ...dicomMutationKinds].map((k) => [k, 0])) as Record<CaseKind, number>;
  const findings: CampaignReport['findings'] = [];
  const timeouts: CampaignReport['timeouts'] = [];
  let unhandled = 0;
  const onUnhandled = () => void unhandled++;
  process.on('unhandledRejection', onUnhandled);
  let inputs = 0;
  let rounds = 0;
  let slowest = 0;
  const rng = prng(options.seed);
  try {
    do {
      rounds++;
      const queue = cases(rng, fixtures, options.perFixture, options.dicomSeed ?? 0);
      const worker = async () => {
        for (let next = queue.next(); !next.done; next = queue.next()) {
          const c = next.value;
          const n = inputs++;
          byKind[c.kind]++;
          // A name with no meaning: detection must go by the bytes, not the extension.
          const file = path.join(work, `case-${n}`);
          writeFileSync(file, c.bytes);
          const r = await runCase(pool, file, options.config);
          slowest = Math.max(slowest, r.ms);
          counts.set(r.outcome, (counts.get(r.outcome) ?? 0) + 1);
          const timedOut = r.outcome === 'EXTRACT_TIMEOUT';
          let kept: string | undefined;
          if (options.keepDir && (timedOut || !allowedOutcome(r.outcome))) {
            mkdirSync(options.keepDir, { recursive: true });
            kept = path.join(options.keepDir, `${r.outcome}-${n}-${path.basename(c.fixture)}.${c.kind}`);
            copyFileSync(file, kept);
          }
          if (timedOut) timeouts.push({ fixture: fixtureName(c.fixture), kind: c.kind, ...(kept ? { kept } : {}) });
          if (!allowedOutcome(r.outcome)) {
            findings.push({ fixture: fixtureName(c.fixture), kind: c.kind, outcome: r.outcome, ...(r.detail ? { detail: r.detail } : {}), ...(kept ? { kept } : {}) });
          }
          rmSync(file, { force: true });
          options.onProgress?.(inputs, counts);
        }
      };
      await Promise.all(Array.from({ length: options.concurrency }, worker));
    } while (Date.now() - started < options.durationMs);
  } finally {
    process.off('unhandledRejection', onUnhandled);
    await pool.close();
    rmSync(work, { recursive: true, force: true });
  }
  return {
    inputs,
    rounds,
    counts: Object.fromEntries([...counts].sort(([a], [b]) => a.localeCompare(b))),
    byKind,
    findings,
    timeouts,
    unhandledRejections: unhandled,
    threadFaults,
    slowestMs: Math.round(slowest),
    // maxRSS covers this process and its extraction threads (one process); ffprobe runs as its own process.
    peakRssMb: Math.round(process.resourceUsage().maxRSS / 1024),
    wallMs: Date.now() - started,
  };
}

function parseArgs(argv: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (!a.startsWith('--')) throw new Error(`unexpected argument ${a}`);
    const [k, v] = a.includes('=') ? a.slice(2).split('=', 2) : [a.slice(2), argv[++i]];
    if (v === undefined) throw new Error(`--${k} needs a value`);
    out[k!] = v;
  }
  return out;
}

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  const num = (name: string, fallback: number) => {
    const v = args[name] === undefined ? fallback : Number(args[name]);
    if (!Number.isFinite(v) || v < 0) throw new Error(`--${name} must be a number`);
    return v;
  };
  const seed = num('seed', Date.now() % 2 ** 31);
  const perFixture = num('iterations', 10);
  const options: CampaignOptions = {
    seed,
    perFixture,
    dicomSeed: num('dicom', 10 * perFixture),
    durationMs: num('minutes', 0) * 60_000,
    concurrency: num('concurrency', Math.max(1, os.availableParallelism())),
    config: { timeoutMs: num('timeout-ms', 30_000), maxHeapMb: num('heap-mb', 256), pdfMaxPageSizes: 10_000, dicomIncludePhi: false },
    ...(args.keep ? { keepDir: path.resolve(args.keep) } : {}),
  };
  if (options.keepDir && existsSync(options.keepDir) && readdirSync(options.keepDir).length) {
    console.error(`note: ${options.keepDir} is not empty; findings are added to it`);
  }
  console.log(`fuzz: seed ${seed}, ${options.perFixture} mutations per fixture and ${options.dicomSeed} DICOM structure mutations per round, ${options.durationMs ? `${options.durationMs / 60_000} min` : 'one round'}, timeout ${options.config.timeoutMs} ms, heap ${options.config.maxHeapMb} MB, ${options.concurrency} threads`);
  let last = 0;
  options.onProgress = (done, counts) => {
    if (Date.now() - last < 10_000) return;
    last = Date.now();
    console.log(`  ${done} inputs: ${[...counts].map(([k, v]) => `${k} ${v}`).join(', ')}`);
  };
  const report = await runCampaign(options);
  console.log(JSON.stringify(report, null, 2));
  const bad = report.findings.length + report.unhandledRejections;
  console.log(bad ? `${bad} finding(s); rerun with --seed ${seed} to reproduce` : `no findings in ${report.inputs} inputs`);
  return bad ? 1 : 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().then(
    (code) => process.exit(code),
    (err: unknown) => {
      console.error(err);
      process.exit(2);
    },
  );
}
