/**
 * `npm run cross-check [dir...]`: runs our extraction (probeFile, exactly what `asset-meta probe` does)
 * on every fixture, and on every file under the directories given, and compares it field by field with
 * what trusted tools say: exiftool, Debian's ffprobe, mediainfo, pdfinfo and qpdf, dcmdump, `file` and
 * `wc -l`. Every disagreement is printed with both values. Each is either explained by a rule in
 * cross-check/known.ts (which names its section of docs/cross-check.md: who is right and why) or marked
 * UNEXPLAINED; the exit status is 1 when any is unexplained, 2 when a tool is missing.
 *
 * Comparisons are made only where both sides say something: a field our result leaves out, or one the
 * tool does not print, is not compared. When we fail a file, the tools' status (did it read the file?)
 * is compared instead. The tolerance policy is in cross-check/claim.ts (`withinTolerance`).
 */
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AssetResult, DataType } from '../src/contract.js';
import type { ExtractConfig } from '../src/config.js';
import { probeFile } from '../src/probe.js';
import { agrees, type Claim, type Value } from './cross-check/claim.js';
import { dcmdumpClaims, pdfClaims, textClaims } from './cross-check/documents.js';
import { exiftoolBatch, exiftoolClaims, exiftoolDataType } from './cross-check/exiftool.js';
import type { Disagreement } from './cross-check/facts.js';
import { explain } from './cross-check/known.js';
import { ffprobeClaims, mediainfoClaims } from './cross-check/media.js';
import { findTools, mapLimit, type ToolName } from './cross-check/run.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const fixturesDir = path.join(root, 'fixtures');

/** The worker's defaults (docs/contract.md §7), with the ffprobe the worker ships (its bundled static build). */
const config: ExtractConfig = { timeoutMs: 60_000, maxHeapMb: 256, pdfMaxPageSizes: 10_000, dicomIncludePhi: false };

/** Fixtures are the files that have an expected.json; an extra directory is taken whole, hidden files aside. */
function listFiles(dir: string, fixturesOnly: boolean): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name.startsWith('.')) continue;
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...listFiles(full, fixturesOnly));
    else if (entry.isFile() && !entry.name.endsWith('.expected.json')) {
      if (!fixturesOnly || safeExists(`${full}.expected.json`)) out.push(full);
    }
  }
  return out.sort();
}

function safeExists(file: string): boolean {
  try {
    return statSync(file).isFile();
  } catch {
    return false;
  }
}

/** Our value at a claim's path (`pdf.pages[2].width`), or undefined when our result says nothing there. */
function ours(result: AssetResult, field: string): Value | undefined {
  if (field === 'error.code') return result.status === 'failed' ? result.error?.code : 'none';
  let node: unknown = result;
  for (const part of field.split('.').flatMap((p) => p.split(/\[(\d+)\]/).filter(Boolean))) {
    if (node === null || typeof node !== 'object') return undefined;
    node = (node as Record<string, unknown>)[part];
  }
  return typeof node === 'string' || typeof node === 'number' || typeof node === 'boolean' ? node : undefined;
}

async function claimsFor(file: string, type: DataType | undefined, exif: Claim[], tools: Record<ToolName, string>): Promise<Claim[]> {
  const claims = [...exif];
  if (type === 'video' || type === 'audio') {
    claims.push(...(await ffprobeClaims(tools.ffprobe, file, type)), ...(await mediainfoClaims(tools.mediainfo, file, type)));
  }
  if (type === 'image') claims.push(...(await mediainfoClaims(tools.mediainfo, file, 'image')));
  if (type === 'pdf') claims.push(...(await pdfClaims(tools, file)));
  if (type === 'dicom') claims.push(...(await dcmdumpClaims(tools.dcmdump, file)));
  if (type === 'text') claims.push(...(await textClaims(tools, file)));
  return claims;
}

type Context = Pick<Disagreement, 'file' | 'result' | 'exif' | 'claims' | 'tools'>;

function compare(ctx: Context): { checked: number; found: Disagreement[] } {
  const { result, claims } = ctx;
  const found: Disagreement[] = [];
  let checked = 0;
  for (const claim of claims) {
    let mine: Value | undefined;
    if (claim.field === 'status') mine = result.status;
    else if (result.status === 'failed' && claim.field !== 'error.code') continue;
    else mine = ours(result, claim.field);
    if (mine === undefined) continue;
    checked++;
    if (!agrees(claim, mine)) found.push({ ...ctx, field: claim.field, tool: claim.tool, ours: mine, theirs: claim.value });
  }
  return { checked, found };
}

const show = (v: Value): string => (typeof v === 'number' ? String(Math.round(v * 1e6) / 1e6) : JSON.stringify(v));

async function main(): Promise<number> {
  const { paths, missing } = await findTools();
  if (missing.length) {
    console.error(`cross-check: missing tools: ${missing.join(', ')} (Debian: libimage-exiftool-perl, ffmpeg, mediainfo, poppler-utils, qpdf, dcmtk, file, coreutils)`);
    return 2;
  }
  const fixtures = listFiles(fixturesDir, true);
  const files = [...fixtures, ...process.argv.slice(2).flatMap((d) => listFiles(path.resolve(d), false))];
  const exif = await exiftoolBatch(paths.exiftool, files);
  const rows = await mapLimit(files, 4, async (file) => {
    const result = await probeFile(file, config);
    const tags = exif.get(file);
    const type = result.status === 'ok' ? result.dataType : exiftoolDataType(tags);
    const claims = await claimsFor(file, type, exiftoolClaims(tags, type), paths);
    return { file, result, type: type ?? 'unknown', ...compare({ file, result, exif: tags, claims, tools: paths }) };
  });

  let checked = 0;
  let unexplained = 0;
  let explained = 0;
  /** Per set (fixtures, or the directories given) and data type: files, comparisons, disagreements. */
  const tally = new Map<string, [number, number, number]>();
  /** Disagreements per rule of known.ts. */
  const byRule = new Map<string, number>();
  console.log('Tolerances: durations 10 ms; fps 0.1 %; bit rates 1 %; PDF page sizes 0.01 pt; everything else exact.\n');
  for (const row of rows) {
    checked += row.checked;
    const key = `${fixtures.includes(row.file) ? 'fixtures' : 'given'} ${row.type}`;
    const t = tally.get(key) ?? [0, 0, 0];
    tally.set(key, [t[0] + 1, t[1] + row.checked, t[2] + row.found.length]);
    const rel = path.relative(root, row.file);
    const status = row.result.status === 'ok' ? `${row.result.dataType}` : `failed ${row.result.error?.code}`;
    if (row.found.length === 0) {
      console.log(`ok    ${rel} (${status}, ${row.checked} checks)`);
      continue;
    }
    console.log(`DIFF  ${rel} (${status}, ${row.checked} checks)`);
    for (const d of row.found) {
      const why = await explain(d);
      if (why) explained++;
      else unexplained++;
      byRule.set(why ?? 'UNEXPLAINED', (byRule.get(why ?? 'UNEXPLAINED') ?? 0) + 1);
      console.log(`      ${d.field.padEnd(28)} ours ${show(d.ours).padEnd(14)} ${d.tool} ${show(d.theirs).padEnd(14)} ${why ? `explained: ${why}` : 'UNEXPLAINED'}`);
    }
  }
  console.log('\nset       type     files  comparisons  disagreements');
  for (const [key, [n, c, f]] of [...tally].sort()) {
    const [set = '', type = ''] = key.split(' ');
    console.log(`${set.padEnd(9)} ${type.padEnd(8)} ${String(n).padStart(5)} ${String(c).padStart(12)} ${String(f).padStart(14)}`);
  }
  console.log('\ndisagreements by rule (docs/cross-check.md)');
  for (const [rule, n] of [...byRule].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))) console.log(`${String(n).padStart(5)}  ${rule}`);
  console.log(`\n${files.length} files, ${checked} comparisons, ${explained + unexplained} disagreements: ${explained} explained (docs/cross-check.md), ${unexplained} unexplained.`);
  return unexplained ? 1 : 0;
}

process.exitCode = await main();
