/**
 * `asset-meta storages check [id] [--key KEY]`: how an operator validates an integration before the
 * backend sends jobs. For each configured storage: sign a URL for an object, fetch its first byte by that
 * URL alone, then sign a URL that lives 2 seconds and check the store refuses it once expired.
 */
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';
import type { Config } from '../config.js';
import { isAssetError, messageOf } from '../errors.js';
import { redactUrlsIn } from '../storage/redact.js';
import type { ResolvedStorage } from '../storage/storage-config.js';
import { createStorage, type Storage } from '../storage/storage.js';
import { colours, table } from './format.js';

export const storagesHelp = `Usage: asset-meta storages check [id] [--key KEY] [--format table|json] [--expiry-wait-ms N]

For each configured storage (STORAGES or STORAGES_FILE), or only the one named:
  sign    sign a URL for KEY (without --key: the first object the storage lists, where it can list)
  fetch   GET its first byte (Range: bytes=0-0) by that URL alone, as the worker would
  expiry  sign a URL that lives 2 seconds, check it works, wait until it has expired, check it is refused
Prints one row per storage with the error code of what failed; exit 1 if any check fails.

Listing needs a permission the worker itself never uses (s3:ListBucket, the SAS list right,
storage.objects.list); name an object with --key where it is not granted. A signer storage cannot list.

Options:
  --key KEY            the object to check in every storage checked
  --format table|json  output (default table)
  --expiry-wait-ms N   how long past a short URL's expiry to wait before trying it (default 1500)
  -h, --help           this text

Examples:
  asset-meta storages check
  asset-meta storages check blob --key uploads/sample.jpg
  STORAGES_FILE=storages.json asset-meta storages check --key healthcheck.txt --format json`;

/** A checked URL must answer within this. */
const fetchTimeoutMs = 15_000;
/** Lifetime of the URL of the expiry check: long enough to be used once at once, short to wait out. */
const shortTtlSeconds = 2;

type Step = { ok: true; note?: string } | { ok: false; code: string; message: string } | { skipped: string };

interface Row {
  id: string;
  kind: string;
  key?: string;
  sign: Step;
  fetch: Step;
  expiry: Step;
}

/** One line of a table cell: SDK messages span lines (Azure adds RequestId and Time). */
const oneLine = (text: string) => redactUrlsIn(text).replace(/\s+/g, ' ').trim().slice(0, 240);
const failed = (err: unknown): Step => ({
  ok: false,
  code: isAssetError(err) ? err.code : 'ERROR',
  message: oneLine(messageOf(err)),
});
const isFailure = (s: Step) => 'ok' in s && !s.ok;

/** GET the first byte; a refusal becomes the error code the pipeline would report (CONTRACT.md §4). */
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
  const short = createStorage({ ...entry, urlTtlSeconds: shortTtlSeconds });
  let signed;
  try {
    signed = await short.sign({ assetId: 'storages-check', key });
  } catch (err) {
    return failed(err);
  }
  const fresh = await fetchFirstByte(signed.url);
  if (isFailure(fresh)) return { ...(fresh as Extract<Step, { ok: false }>), message: `a ${shortTtlSeconds}-second URL was refused at once` };
  await sleep(Math.max(0, signed.expiresAt!.getTime() - Date.now()) + waitMs);
  const late = await fetchFirstByte(signed.url);
  if ('ok' in late && late.ok) return { ok: false, code: 'EXPIRY_NOT_ENFORCED', message: `a URL expired ${waitMs} ms ago still works` };
  if ('code' in late && late.code !== 'ACCESS_DENIED') return late;
  return { ok: true, note: `refused after expiry (${'message' in late ? late.message : ''})` };
}

async function checkOne(entry: ResolvedStorage, storage: Storage, keyOption: string | undefined, waitMs: number): Promise<Row> {
  const row: Row = { id: entry.id, kind: entry.kind, sign: { skipped: '' }, fetch: { skipped: '' }, expiry: { skipped: '' } };
  let key = keyOption;
  if (key === undefined) {
    if (!storage.sampleKey) {
      row.sign = { ok: false, code: 'NO_KEY', message: `a ${entry.kind} storage cannot list: name an object with --key` };
      return row;
    }
    try {
      key = await storage.sampleKey();
    } catch (err) {
      row.sign = failed(err);
      return row;
    }
    if (key === undefined) {
      row.sign = { ok: false, code: 'NO_KEY', message: 'the storage lists no object: name one with --key' };
      return row;
    }
  }
  row.key = key;
  let url: string;
  try {
    url = (await storage.sign({ assetId: 'storages-check', key })).url;
    row.sign = { ok: true };
  } catch (err) {
    row.sign = failed(err);
    return row;
  }
  row.fetch = await fetchFirstByte(url);
  if (isFailure(row.fetch)) return row;
  row.expiry = await checkExpiry(entry, key, waitMs);
  return row;
}

function cell(step: Step, paint: ReturnType<typeof colours>): string {
  if ('skipped' in step) return paint.dim(step.skipped ? `- (${step.skipped})` : '-');
  return step.ok ? paint.green('ok') : paint.red(step.code);
}

export async function storagesCommand(argv: string[], config: Config): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      key: { type: 'string' },
      format: { type: 'string', default: 'table' },
      'expiry-wait-ms': { type: 'string', default: '1500' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(storagesHelp);
    return 0;
  }
  const [action, id, ...extra] = positionals;
  const waitMs = Number(values['expiry-wait-ms']);
  if (action !== 'check' || extra.length > 0 || !['table', 'json'].includes(values.format) || !(waitMs >= 0)) {
    console.error(storagesHelp);
    return 2;
  }
  const entries = config.storages.filter((s) => id === undefined || s.id === id);
  if (entries.length === 0) {
    console.error(id === undefined ? 'no storage is configured (STORAGES or STORAGES_FILE)' : `no storage with id "${id}" is configured`);
    return 2;
  }
  const rows = await Promise.all(entries.map((e) => checkOne(e, createStorage(e), values.key, waitMs)));
  const anyFailed = rows.some((r) => [r.sign, r.fetch, r.expiry].some(isFailure));
  if (values.format === 'json') {
    console.log(JSON.stringify(rows, null, 2));
  } else {
    const paint = colours();
    console.log(table(
      ['id', 'kind', 'key', 'sign', 'fetch', 'expiry', 'detail'],
      rows.map((r) => {
        const problem = [r.sign, r.fetch, r.expiry].find(isFailure) as Extract<Step, { ok: false }> | undefined;
        return [r.id, r.kind, r.key ?? '-', cell(r.sign, paint), cell(r.fetch, paint), cell(r.expiry, paint), problem?.message ?? ''];
      }),
    ));
  }
  return anyFailed ? 1 : 0;
}
