/**
 * The checks behind `asset-meta storages check`, for one configured storage: sign a URL for an object,
 * fetch its first byte by that URL alone, then sign a URL that lives 2 seconds and check the store refuses
 * it once expired. Every step that does not run says why.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';
import type { Config } from '../config.js';
import { isAssetError, messageOf } from '../errors.js';
import { redactUrlsIn } from '../storage/redact.js';
import type { ResolvedStorage } from '../storage/storage-config.js';
import { createStorage } from '../storage/registry.js';
import type { Storage } from '../storage/storage.js';
import { colours, table } from './format.js';
import { quote } from './usage.js';

/** A checked URL must answer within this. */
const fetchTimeoutMs = 15_000;
/** Lifetime of the URL of the expiry check: long enough to be used once at once, short to wait out. */
const shortTtlSeconds = 2;
/** Longest message kept in a row (SDK messages can be long). */
const maxMessageChars = 240;

type Failure = { ok: false; code: string; message: string };
type Step = { ok: true; note?: string } | Failure | { skipped: string };

interface Row {
  id: string;
  kind: string;
  key?: string;
  sign: Step;
  fetch: Step;
  expiry: Step;
}

/** One line of a table cell: SDK messages span lines (Azure adds RequestId and Time). */
const oneLine = (text: string) => redactUrlsIn(text).replace(/\s+/g, ' ').trim().slice(0, maxMessageChars);
const failed = (err: unknown): Failure => ({
  ok: false,
  code: isAssetError(err) ? err.code : 'ERROR',
  message: oneLine(messageOf(err)),
});
const isFailure = (s: Step): s is Failure => 'ok' in s && !s.ok;

/** A URL for `key`, or why the storage refused to sign one. */
const signUrl = (storage: Storage, key: string) => storage.sign({ assetId: 'storages-check', key }).catch(failed);

/** GET the first byte; a refusal becomes the error code the pipeline would report (docs/contract.md §4). */
async function fetchFirstByte(url: string): Promise<Step> {
  try {
    const res = await request(url, { method: 'GET', headers: { range: 'bytes=0-0' }, signal: AbortSignal.timeout(fetchTimeoutMs) });
    await res.body.dump();
    const s = res.statusCode;
    if (s === 200 || s === 206) return { ok: true, note: `HTTP ${s}` };
    const code = s === 404 || s === 410 ? 'NOT_FOUND' : s === 429 || s >= 500 ? 'STORAGE_UNAVAILABLE' : 'ACCESS_DENIED';
    return { ok: false, code, message: `HTTP ${s}` };
  } catch (err) {
    return { ok: false, code: 'STORAGE_UNAVAILABLE', message: oneLine(messageOf(err)) };
  }
}

async function checkExpiry(entry: ResolvedStorage, key: string, waitMs: number): Promise<Step> {
  if (entry.kind === 'signer') return { skipped: 'the backend sets the lifetime' };
  const signed = await signUrl(createStorage({ ...entry, urlTtlSeconds: shortTtlSeconds }), key);
  if ('ok' in signed) return signed;
  const fresh = await fetchFirstByte(signed.url);
  if (isFailure(fresh)) return { ...fresh, message: `a ${shortTtlSeconds}-second URL was refused at once` };
  await sleep(Math.max(0, signed.expiresAt!.getTime() - Date.now()) + waitMs);
  const late = await fetchFirstByte(signed.url);
  if ('ok' in late && late.ok) return { ok: false, code: 'EXPIRY_NOT_ENFORCED', message: `a URL expired ${waitMs} ms ago still works` };
  if (isFailure(late) && late.code !== 'ACCESS_DENIED') return late;
  return { ok: true, note: `refused after expiry (${'message' in late ? late.message : ''})` };
}

/** The object to check: the one named, else the first the storage lists; a failure when there is none. */
async function keyToCheck(entry: ResolvedStorage, storage: Storage, named: string | undefined): Promise<string | Failure> {
  if (named !== undefined) return named;
  if (!storage.sampleKey) return { ok: false, code: 'NO_KEY', message: `a ${entry.kind} storage cannot list: name an object with --key` };
  const listed = await storage.sampleKey().catch(failed);
  return listed ?? { ok: false, code: 'NO_KEY', message: 'the storage lists no object: name one with --key' };
}

/** Checks each configured storage (or the one named), prints a row each; the exit status. */
export async function checkStorages(
  options: { id: string | undefined; key: string | undefined; format: 'table' | 'json'; waitMs: number },
  config: Config,
): Promise<number> {
  const entries = config.storages.filter((s) => options.id === undefined || s.id === options.id);
  if (entries.length === 0) {
    console.error(options.id === undefined ? 'no storage is configured (STORAGES or STORAGES_FILE)' : `no storage with id ${quote(options.id)} is configured`);
    return 2;
  }
  const rows = await Promise.all(entries.map((e) => checkStorage(e, options.key, options.waitMs)));
  const problemOf = (r: Row) => [r.sign, r.fetch, r.expiry].find(isFailure);
  const paint = colours();
  const cell = (step: Step) => {
    if ('skipped' in step) return paint.dim(step.skipped ? `- (${step.skipped})` : '-');
    return step.ok ? paint.green('ok') : paint.red(step.code);
  };
  if (options.format === 'json') console.log(JSON.stringify(rows, null, 2));
  else {
    const header = ['id', 'kind', 'key', 'sign', 'fetch', 'expiry', 'detail'];
    console.log(table(header, rows.map((r) => [r.id, r.kind, r.key ?? '-', cell(r.sign), cell(r.fetch), cell(r.expiry), problemOf(r)?.message ?? ''])));
  }
  return rows.some((r) => problemOf(r)) ? 1 : 0;
}

/** Runs the three steps in turn; a step after a failed one is skipped, naming the step that failed. */
async function checkStorage(entry: ResolvedStorage, keyOption: string | undefined, waitMs: number): Promise<Row> {
  const storage = createStorage(entry);
  const row: Row = { id: entry.id, kind: entry.kind, sign: { skipped: '' }, fetch: { skipped: 'no URL was signed' }, expiry: { skipped: 'no URL was signed' } };
  const key = await keyToCheck(entry, storage, keyOption);
  if (typeof key !== 'string') {
    row.sign = key;
    return row;
  }
  row.key = key;
  const signed = await signUrl(storage, key);
  if ('ok' in signed) {
    row.sign = signed;
    return row;
  }
  row.sign = { ok: true };
  row.fetch = await fetchFirstByte(signed.url);
  if (isFailure(row.fetch)) {
    row.expiry = { skipped: 'the fetch failed' };
    return row;
  }
  row.expiry = await checkExpiry(entry, key, waitMs);
  return row;
}
