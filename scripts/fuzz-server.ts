/**
 * "Server manners" fuzzing: a raw loopback HTTP server that misbehaves at random (Connection: close, early
 * close, slow drip, Content-Length too short or too long, 206/416 mismatches, redirects and redirect loops,
 * objects that change between ranges, weak ETags, short 206s, 429/503 with Retry-After, stalls, Range
 * ignored) against the real download and ranged-read code. Every case must end with a file that is one
 * version of the object (or the part of one a ranged read holds), or with a contract code; never a hang,
 * an uncoded error, an uncaught exception or a temp file left behind. Seeded: a campaign is reproducible.
 *
 *   npx tsx scripts/fuzz-server.ts [--seed N] [--minutes M] [--cases N] [--exclude manner,manner]
 *
 * Known finding: with undici 7.30, a `Connection: close` response whose socket ends while its body is
 * paused under backpressure throws `AssertionError` from undici's socket 'end' handler (client-h1.js
 * Parser.finish; reported upstream to nodejs/undici and fixed in its 8 line). It is uncatchable in a
 * replica: the process exits. This campaign counts it under `uncaught`.
 *
 * test/storage/fuzz-server.test.ts runs a short campaign of the same code in the suite.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { ERROR_CODES } from '../src/contract.js';
import { isAssetError } from '../src/errors.js';
import { createDownloader, type DownloadLimits } from '../src/storage/download.js';
import { fetchForExtraction, type FetchedFile } from '../src/storage/ranged/ranged-read.js';
import { TempDir } from '../src/storage/temp-dir.js';
import { prng } from './fuzz.js';

export const manners = [
  'connection-close', 'early-close', 'slow-drip', 'length-short', 'length-long', 'range-mismatch', 'redirect',
  'redirect-loop', 'changes', 'weak-etag', 'no-validators', 'short-206', 'throttle', 'stall', 'ignore-range', 'empty',
] as const;
export type Manner = (typeof manners)[number];

/** Small limits, so that every stall, drip and throttling wait ends a case within seconds. */
export const fuzzLimits: DownloadLimits = { maxBytes: 2_000_000, timeoutMs: 4_000, stallTimeoutMs: 300 };
/** A case still running this long after its total time is a hang. */
const hangGraceMs = 3_000;

interface Case {
  id: number;
  manners: Set<Manner>;
  versions: [Buffer, Buffer];
  /** The request from which the second version is served (`changes`). */
  changeAt: number;
  mode: 'whole' | 'ranged-small' | 'ranged-planned';
  rng: () => number;
  /** Requests the server has answered for this case. */
  requests: number;
}

const pick = <T>(rng: () => number, list: readonly T[]): T => list[Math.floor(rng() * list.length)]!;
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** A WAV (which the ranged read plans) or patterned bytes, of a size around the first range's edges. */
function makeObject(rng: () => number, seed: number): Buffer {
  const size = pick(rng, [0, 1, 511, 512, 513, 3000, 70_000, 600_000]);
  if (size > 600 && rng() < 0.5) {
    const h = Buffer.alloc(44);
    h.write('RIFF', 0);
    h.writeUInt32LE(36 + size, 4);
    h.write('WAVEfmt ', 8);
    h.writeUInt32LE(16, 16);
    h.writeUInt16LE(1, 20);
    h.writeUInt16LE(1, 22);
    h.writeUInt32LE(8000, 24);
    h.writeUInt32LE(16000, 28);
    h.writeUInt16LE(2, 32);
    h.writeUInt16LE(16, 34);
    h.write('data', 36);
    h.writeUInt32LE(size, 40);
    return Buffer.concat([h, Buffer.from(Array.from({ length: size }, (_, i) => ((i * 7 + seed) % 250) + 1))]);
  }
  return Buffer.from(Array.from({ length: size }, (_, i) => ((i * 31 + seed * 13) % 250) + 1));
}

export function makeCase(id: number, rng: () => number, from: readonly Manner[] = manners): Case {
  const chosen = new Set<Manner>();
  const count = Math.min(from.length, 1 + Math.floor(rng() * 3));
  while (chosen.size < count) chosen.add(pick(rng, from));
  const v1 = chosen.has('empty') ? Buffer.alloc(0) : makeObject(rng, 1);
  const v2 = Buffer.from(v1.map((b) => (b % 250) + 1));
  return { id, manners: chosen, versions: [v1, v2], changeAt: 1 + Math.floor(rng() * 3), mode: pick(rng, ['whole', 'ranged-small', 'ranged-planned'] as const), rng, requests: 0 };
}

type Headers = Record<string, string | number>;
interface Answer {
  status: string;
  headers: Headers;
  body: Buffer;
}
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const bare = (status: string, headers: Headers = {}): Answer => ({ status, headers: { ...headers, 'content-length': 0 }, body: Buffer.alloc(0) });

/** Answers that come before the object: a stall (undefined), throttling, a redirect. */
function before(c: Case, n: number, target: string): Answer | 'stall' | undefined {
  const rng = c.rng;
  if (c.manners.has('stall') && rng() < 0.3) return 'stall';
  if (c.manners.has('throttle') && n < 3 && rng() < 0.7) {
    const after = pick(rng, ['0', '1', new Date(Date.now() + 500).toUTCString(), '30', 'soon']);
    return bare(pick(rng, ['429 Too Many Requests', '503 Slow Down']), { 'retry-after': after });
  }
  if (c.manners.has('redirect-loop')) return bare('302 Found', { location: target });
  if (c.manners.has('redirect') && !target.startsWith('/r/')) return bare('307 Temporary Redirect', { location: `/r${target}` });
  return undefined;
}

/** The object, or the part a Range asks for, with the case's lies about ranges and validators. */
function objectAnswer(c: Case, n: number, range: string | undefined): Answer {
  const has = (m: Manner) => c.manners.has(m);
  const rng = c.rng;
  const version = has('changes') && n >= c.changeAt ? 1 : 0;
  const obj = c.versions[version]!;
  const validators: Headers = has('no-validators') ? {} : { etag: has('weak-etag') ? `W/"v${version}"` : `"v${version}"` };
  const asked = /^bytes=(\d+)-(\d*)$/.exec(range ?? '');
  if (!asked || has('ignore-range')) {
    if (has('range-mismatch') && rng() < 0.3) return { status: '206 Partial Content', headers: { ...validators, 'content-range': `bytes 0-0/${obj.length}` }, body: obj };
    return { status: '200 OK', headers: validators, body: obj };
  }
  const start = Number(asked[1]);
  if (start >= obj.length) return bare('416 Range Not Satisfiable', { ...validators, 'content-range': `bytes */${obj.length}` });
  let end = Math.min(asked[2] ? Number(asked[2]) : obj.length - 1, obj.length - 1);
  if (has('short-206')) end = Math.min(end, start + Math.floor(rng() * 2000));
  let contentRange = `bytes ${start}-${end}/${obj.length}`;
  if (has('range-mismatch') && rng() < 0.5) {
    const lie = pick(rng, ['start', 'total', 'status416', 'end']);
    if (lie === 'status416') return bare('416 Range Not Satisfiable');
    contentRange = lie === 'start' ? `bytes ${start + 1}-${end}/${obj.length}` : lie === 'total' ? `bytes ${start}-${end}/${obj.length + 5}` : `bytes ${start}-${end + 10}/${obj.length}`;
  }
  return { status: '206 Partial Content', headers: { ...validators, 'content-range': contentRange }, body: obj.subarray(start, end + 1) };
}

/** One raw HTTP/1.1 response, written by hand so that it can lie about lengths, cut, drip and close. */
async function respond(c: Case, socket: net.Socket, n: number, target: string, range: string | undefined): Promise<void> {
  const has = (m: Manner) => c.manners.has(m);
  const rng = c.rng;
  const early = before(c, n, target);
  if (early === 'stall') return sleep(fuzzLimits.stallTimeoutMs * 3);
  const { status, headers, body } = early ?? objectAnswer(c, n, range);
  let length = body.length;
  if (!early && has('length-short') && rng() < 0.5) length = Math.max(0, length - 1 - Math.floor(rng() * 10));
  if (!early && has('length-long') && rng() < 0.5) length += 1 + Math.floor(rng() * 100);
  const lines = Object.entries({ ...headers, 'content-length': length }).map(([k, v]) => `${k}: ${v}`);
  if (has('connection-close')) lines.push('Connection: close');
  socket.write(`HTTP/1.1 ${status}\r\n${lines.join('\r\n')}\r\n\r\n`);
  const cutAt = has('early-close') && rng() < 0.5 ? Math.floor(rng() * body.length) : -1;
  const out = cutAt >= 0 ? body.subarray(0, cutAt) : body;
  if (has('slow-drip') && out.length < 4096) {
    for (let i = 0; i < out.length && !socket.destroyed; i += 256) {
      socket.write(out.subarray(i, i + 256));
      await sleep(Math.floor(rng() * 60));
    }
  } else {
    socket.write(out);
  }
  if (cutAt >= 0 || has('connection-close')) socket.end();
}

/** A raw server running the current case; requests on a connection are answered one after another. */
async function startServer(current: () => Case | undefined): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket)).on('error', () => {});
    let buffered = '';
    let busy = Promise.resolve();
    socket.on('data', (data) => {
      buffered += data.toString('latin1');
      for (let end = buffered.indexOf('\r\n\r\n'); end >= 0; end = buffered.indexOf('\r\n\r\n')) {
        const head = buffered.slice(0, end);
        buffered = buffered.slice(end + 4);
        const target = head.split(' ')[1] ?? '/';
        const range = /\r\nrange: *([^\r]*)/i.exec(head)?.[1];
        const c = current();
        const n = c ? c.requests++ : 0;
        busy = busy
          .then(() => (c ? respond(c, socket, n, target, range) : void socket.destroy()))
          .catch(() => void socket.destroy());
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

/** True when `file` is one version whole, or (a ranged read) one version's bytes where it holds any. */
function oneVersion(c: Case, file: Buffer, scope: FetchedFile['sha256Scope']): boolean {
  return c.versions.some((v) => {
    if (file.length !== v.length) return false;
    if (scope === 'full') return file.equals(v);
    // A sparse file reads zeros where nothing was fetched; the objects made here have no zero byte but a WAV header's.
    for (let i = 0; i < file.length; i++) if (file[i] !== 0 && file[i] !== v[i]) return false;
    return true;
  });
}

export interface ServerCampaignOptions {
  seed: number;
  /** Cases to run; without it, until durationMs has passed. */
  cases?: number;
  durationMs?: number;
  /** Manners left out of the campaign. */
  exclude?: Manner[];
}

export interface ServerCampaignReport {
  seed: number;
  cases: number;
  /** `ok` or the contract code each case ended with. */
  outcomes: Record<string, number>;
  byManner: Record<string, number>;
  /** Cases that hung, left a file, ended uncoded, or gave a file that is not one version of the object. */
  findings: { id: number; manners: Manner[]; mode: Case['mode']; what: string }[];
  uncaught: number;
  /** The first few uncaught errors, with the case that was running. */
  uncaughtErrors: string[];
  wallMs: number;
}

const codes = new Set<string>(ERROR_CODES);

export async function runServerCampaign(options: ServerCampaignOptions): Promise<ServerCampaignReport> {
  const started = Date.now();
  const work = mkdtempSync(path.join(os.tmpdir(), 'fuzz-server-'));
  const temp = await TempDir.create(work);
  let current: Case | undefined;
  const server = await startServer(() => current);
  const downloader = createDownloader();
  const report: ServerCampaignReport = { seed: options.seed, cases: 0, outcomes: {}, byManner: {}, findings: [], uncaught: 0, uncaughtErrors: [], wallMs: 0 };
  const onUncaught = (err: unknown) => {
    report.uncaught++;
    const e = err as Error;
    if (report.uncaughtErrors.length < 5) report.uncaughtErrors.push(`case ${current?.id}: ${e?.name}: ${String(e?.message).slice(0, 200)} ${e?.stack?.split('\n').slice(1, 4).join(' | ') ?? ''}`);
  };
  process.on('uncaughtException', onUncaught).on('unhandledRejection', onUncaught);
  const more = (id: number) => (options.cases !== undefined ? id < options.cases : Date.now() - started < (options.durationMs ?? 0));
  try {
    for (let id = 0; more(id); id++) {
      const c = makeCase(id, prng(options.seed * 7919 + id), manners.filter((m) => !options.exclude?.includes(m)));
      current = c;
      const outcome = await runCase(c, `http://127.0.0.1:${server.port}/obj/${id}?X-Amz-Signature=fuzz`, downloader, temp);
      current = undefined;
      report.cases++;
      report.outcomes[outcome.code] = (report.outcomes[outcome.code] ?? 0) + 1;
      for (const m of c.manners) report.byManner[m] = (report.byManner[m] ?? 0) + 1;
      const left = temp.openCount;
      if (left) outcome.findings.push(`${left} temp file(s) left`);
      for (const what of outcome.findings) report.findings.push({ id, manners: [...c.manners], mode: c.mode, what });
    }
  } finally {
    process.off('uncaughtException', onUncaught).off('unhandledRejection', onUncaught);
    await downloader.close();
    await server.close();
    await temp.close();
    rmSync(work, { recursive: true, force: true });
  }
  report.wallMs = Date.now() - started;
  return report;
}

async function runCase(c: Case, url: string, downloader: ReturnType<typeof createDownloader>, temp: TempDir): Promise<{ code: string; findings: string[] }> {
  const findings: string[] = [];
  const run: Promise<FetchedFile> =
    c.mode === 'whole'
      ? downloader.download(url, temp, fuzzLimits).then((f) => ({ ...f, sha256Scope: 'full' as const }))
      : fetchForExtraction(downloader, url, temp, fuzzLimits, c.mode === 'ranged-planned' ? 0 : 16 * 1024 * 1024, 512);
  let timer: NodeJS.Timeout | undefined;
  const hang = new Promise<'hang'>((r) => (timer = setTimeout(() => r('hang'), fuzzLimits.timeoutMs + hangGraceMs)));
  const settled = await Promise.race([run.then((file) => ({ file }), (err: unknown) => ({ err })), hang]).finally(() => clearTimeout(timer));
  if (settled === 'hang') return { code: 'hang', findings: ['no answer within the total time and its grace'] };
  if ('err' in settled) {
    const err = settled.err;
    if (isAssetError(err) && codes.has(err.code)) {
      if (err.message.includes('X-Amz-Signature=fuzz')) findings.push('a query string in an error message');
      return { code: err.code, findings };
    }
    return { code: 'uncoded', findings: [`uncoded error: ${String((err as Error)?.message ?? err).slice(0, 200)}`] };
  }
  const { file } = settled;
  const bytes = readFileSync(file.path);
  await temp.remove(file.path);
  if (file.sha256Scope === 'full' && sha(bytes) !== file.sha256) findings.push('sha256 is not of the file');
  // A Content-Length that says less than the object is all a plain GET (200) can know of it: a prefix.
  const prefixOk = file.sha256Scope === 'full' && c.manners.has('length-short') && c.versions.some((v) => v.subarray(0, bytes.length).equals(bytes));
  if (!oneVersion(c, bytes, file.sha256Scope) && !prefixOk) findings.push(`a ${file.sha256Scope} file of ${bytes.length} bytes that is not one version of the object`);
  return { code: 'ok', findings };
}

function parseArgs(argv: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i < argv.length; i += 2) {
    const [k, v] = [argv[i]!, argv[i + 1]];
    if (!k.startsWith('--') || v === undefined) throw new Error(`expected --name value, got ${k}`);
    out[k.slice(2)] = v;
  }
  return out;
}

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  const seed = args.seed ? Number(args.seed) : Date.now() % 2 ** 31;
  const exclude = (args.exclude ?? '').split(',').filter(Boolean) as Manner[];
  for (const m of exclude) if (!manners.includes(m)) throw new Error(`--exclude: no manner ${m} (${manners.join(', ')})`);
  const options: ServerCampaignOptions = { seed, exclude, ...(args.cases ? { cases: Number(args.cases) } : { durationMs: Number(args.minutes ?? 1) * 60_000 }) };
  console.log(`fuzz-server: seed ${seed}, ${options.cases !== undefined ? `${options.cases} cases` : `${(options.durationMs ?? 0) / 60_000} min`}`);
  const report = await runServerCampaign(options);
  console.log(JSON.stringify(report, null, 2));
  const bad = report.findings.length + report.uncaught;
  console.log(bad ? `${bad} finding(s); rerun with --seed ${seed} to reproduce` : `no findings in ${report.cases} cases`);
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
