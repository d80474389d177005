/**
 * Mutation fuzzing of detection + extraction (`npm run fuzz`). Every fixture is mutated (bit flips,
 * truncations, splices of two fixtures, header swaps, inserted and zeroed runs) with a seeded PRNG, so a
 * campaign is reproducible from its seed; each case runs through the production extraction pool (worker
 * threads, heap limit, timeout kill) and must end ok with a section the contract accepts, or with a
 * contract error code, within its timeout.
 *
 *   npm run fuzz -- [--seed N] [--iterations N] [--minutes M] [--timeout-ms N] [--heap-mb N] [--keep DIR]
 *
 * --iterations is mutations per fixture per round; rounds repeat until --minutes have passed (default: one
 * round). --keep saves every input that did not end as allowed, and every timeout, to replay with
 * `asset-meta probe`.
 * test/fuzz.test.ts runs a short campaign of the same code in the suite.
 */
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { AssetResultSchema } from '../src/contract.js';
import type { ExtractConfig } from '../src/config.js';
import { isAssetError } from '../src/errors.js';
import { ExtractPool, threadStartTimeoutMs } from '../src/extractors/isolate.js';
import { okResult } from '../src/result.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const fixturesRoot = path.join(root, 'fixtures');

/** Codes an extraction may end with (CONTRACT.md §4; TOO_LARGE is a decompression cap, as DICOM deflate's); anything else is a finding. */
export const extractionCodes = new Set(['CORRUPT_ASSET', 'UNSUPPORTED_TYPE', 'ENCRYPTED_ASSET', 'EXTRACT_TIMEOUT', 'TOO_LARGE']);

/** mulberry32: a small seeded PRNG, good enough to pick mutations reproducibly. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export type MutationKind = 'bitflip' | 'truncate' | 'splice' | 'header-swap' | 'insert' | 'zero-run';
export const mutationKinds: MutationKind[] = ['bitflip', 'truncate', 'splice', 'header-swap', 'insert', 'zero-run'];

/** One mutated input: which fixture, how, and the bytes. */
export interface FuzzCase {
  fixture: string;
  kind: MutationKind;
  bytes: Buffer;
}

const int = (rng: () => number, below: number) => Math.floor(rng() * Math.max(1, below));

/** Mutates `input` one way; `other` is a second fixture for splices and header swaps. */
export function mutate(rng: () => number, kind: MutationKind, input: Buffer, other: Buffer): Buffer {
  const out = Buffer.from(input);
  switch (kind) {
    case 'bitflip': {
      // A few flips, biased towards the header where parsers make their decisions.
      const flips = 1 + int(rng, 8);
      for (let i = 0; i < flips && out.length > 0; i++) {
        const at = rng() < 0.5 ? int(rng, Math.min(out.length, 512)) : int(rng, out.length);
        out[at]! ^= 1 << int(rng, 8);
      }
      return out;
    }
    case 'truncate':
      return out.subarray(0, int(rng, out.length));
    case 'splice': {
      const cut = int(rng, input.length);
      return Buffer.concat([input.subarray(0, cut), other.subarray(int(rng, other.length))]);
    }
    case 'header-swap': {
      // Another format's signature on this body (a PNG header on an MP4, ...).
      const n = Math.min(4 + int(rng, 60), other.length, out.length);
      other.copy(out, 0, 0, n);
      return out;
    }
    case 'insert': {
      // A run of one repeated byte: huge lengths, counts and offsets when it lands on a size field.
      const at = int(rng, out.length);
      const run = Buffer.alloc(1 + int(rng, 4096), [0xff, 0x00, 0x7f, 0x80][int(rng, 4)]!);
      return Buffer.concat([out.subarray(0, at), run, out.subarray(at)]);
    }
    case 'zero-run': {
      const at = int(rng, out.length);
      out.fill(0, at, Math.min(out.length, at + 1 + int(rng, 256)));
      return out;
    }
  }
}

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

/** The cases of one round: `perFixture` mutations of every fixture, drawn from `rng` in a fixed order. */
export function* cases(rng: () => number, fixtures: string[], perFixture: number): Generator<FuzzCase> {
  const bytes = new Map(fixtures.map((f) => [f, readFileSync(f)]));
  for (const fixture of fixtures) {
    for (let i = 0; i < perFixture; i++) {
      const kind = mutationKinds[int(rng, mutationKinds.length)]!;
      const other = bytes.get(fixtures[int(rng, fixtures.length)]!)!;
      yield { fixture, kind, bytes: mutate(rng, kind, bytes.get(fixture)!, other) };
    }
  }
}

/**
 * How a case ended. `ok` and the contract codes are allowed; `thread-crash` (an extractor threw outside its
 * promise), `out-of-heap`, `bad-section` (ok, but the contract's schema refuses it), `unexpected-code`,
 * `late` (settled after timeout + grace: the kill did not work) and `threw` (not a coded error) are findings.
 */
export type Outcome = string;
export const allowedOutcome = (o: Outcome) => o === 'ok' || extractionCodes.has(o);

/**
 * How long past its timeout a case may take before it counts as `late`: a run first waits for a thread to
 * start (a killed one is replaced), which the pool bounds separately.
 */
export const lateGraceMs = threadStartTimeoutMs + 5_000;

export async function runCase(pool: ExtractPool, file: string, config: ExtractConfig, graceMs = lateGraceMs): Promise<{ outcome: Outcome; detail?: string; ms: number }> {
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<{ outcome: Outcome; detail: string }>((resolve) => {
    timer = setTimeout(() => resolve({ outcome: 'late', detail: `no answer ${graceMs} ms after the timeout` }), config.timeoutMs + graceMs);
  });
  const run = pool.run(file, config).then(
    (extracted) => {
      const parsed = AssetResultSchema.safeParse(okResult('fuzz', { sizeBytes: 0, sha256: '0'.repeat(64) }, extracted, { sign: 0, download: 0, extract: 0, total: 0 }));
      return parsed.success ? { outcome: 'ok' } : { outcome: 'bad-section', detail: parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ') };
    },
    (err: unknown) => {
      if (!isAssetError(err)) return { outcome: 'threw', detail: String(err) };
      if (err.code === 'CORRUPT_ASSET' && /^extractor (crashed|exited)/.test(err.message)) return { outcome: 'thread-crash', detail: err.message };
      if (err.code === 'CORRUPT_ASSET' && /ran out of its/.test(err.message)) return { outcome: 'out-of-heap', detail: err.message };
      return extractionCodes.has(err.code) ? { outcome: err.code, detail: err.message } : { outcome: 'unexpected-code', detail: `${err.code}: ${err.message}` };
    },
  );
  try {
    return { ...(await Promise.race([run, late])), ms: performance.now() - started };
  } finally {
    clearTimeout(timer);
  }
}

export interface CampaignOptions {
  seed: number;
  perFixture: number;
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
  byKind: Record<MutationKind, number>;
  findings: { fixture: string; kind: MutationKind; outcome: Outcome; detail?: string; kept?: string }[];
  /** Allowed, but each is a job that held a thread for the whole timeout: worth a look. */
  timeouts: { fixture: string; kind: MutationKind; kept?: string }[];
  unhandledRejections: number;
  slowestMs: number;
  peakRssMb: number;
  wallMs: number;
}

export async function runCampaign(options: CampaignOptions): Promise<CampaignReport> {
  const started = Date.now();
  const fixtures = options.fixtures ?? listFuzzFixtures();
  const work = mkdtempSync(path.join(os.tmpdir(), 'fuzz-'));
  const pool = new ExtractPool(options.concurrency, options.config.maxHeapMb);
  const counts = new Map<Outcome, number>();
  const byKind = Object.fromEntries(mutationKinds.map((k) => [k, 0])) as Record<MutationKind, number>;
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
      const queue = cases(rng, fixtures, options.perFixture);
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
          if (timedOut) timeouts.push({ fixture: path.relative(root, c.fixture), kind: c.kind, ...(kept ? { kept } : {}) });
          if (!allowedOutcome(r.outcome)) {
            findings.push({ fixture: path.relative(root, c.fixture), kind: c.kind, outcome: r.outcome, ...(r.detail ? { detail: r.detail } : {}), ...(kept ? { kept } : {}) });
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
  const options: CampaignOptions = {
    seed,
    perFixture: num('iterations', 10),
    durationMs: num('minutes', 0) * 60_000,
    concurrency: num('concurrency', Math.max(1, os.availableParallelism())),
    config: { timeoutMs: num('timeout-ms', 30_000), maxHeapMb: num('heap-mb', 256), pdfMaxPageSizes: 10_000, dicomIncludePhi: false },
    ...(args.keep ? { keepDir: path.resolve(args.keep) } : {}),
  };
  if (options.keepDir && existsSync(options.keepDir) && readdirSync(options.keepDir).length) {
    console.error(`note: ${options.keepDir} is not empty; findings are added to it`);
  }
  console.log(`fuzz: seed ${seed}, ${options.perFixture} mutations per fixture per round, ${options.durationMs ? `${options.durationMs / 60_000} min` : 'one round'}, timeout ${options.config.timeoutMs} ms, heap ${options.config.maxHeapMb} MB, ${options.concurrency} threads`);
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
