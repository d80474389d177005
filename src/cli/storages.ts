/**
 * `asset-meta storages check [id] [--key KEY]`: how an operator validates an integration before the
 * backend sends jobs (the checks are in storages-check.ts, loaded once the arguments are good).
 */
import type { Config } from '../config.js';
import { colours, table } from './format.js';
import { nonNegativeInt, parseCommandArgs, quote, UsageError, type Command } from './usage.js';
import type { Failure, Row, Step } from './storages-check.js';

export const storagesHelp = `Usage: asset-meta storages check [id] [--key KEY] [--format table|json] [--expiry-wait-ms N]

For each configured storage (STORAGES or STORAGES_FILE), or only the one named:
  sign    sign a URL for KEY (without --key: the first object the storage lists, where it can list)
  fetch   GET its first byte (Range: bytes=0-0) by that URL alone, as the worker would
  expiry  sign a URL that lives 2 seconds, check it works, wait until it has expired, check it is refused
Prints one row per storage with the error code of what failed; exit 1 if any check fails. A step
that does not run says why (the one before it failed, or it does not apply to the storage's kind).

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

interface Options {
  id: string | undefined;
  key: string | undefined;
  format: 'table' | 'json';
  waitMs: number;
}

export const storagesCommand: Command = {
  help: storagesHelp,
  parse(argv) {
    const { values, positionals } = parseCommandArgs(
      argv,
      { key: { type: 'string' }, format: { type: 'string', default: 'table' }, 'expiry-wait-ms': { type: 'string', default: '1500' } },
      true,
    );
    const [action, id, ...extra] = positionals;
    if (action === undefined) throw new UsageError('no action given: the action is check');
    if (action !== 'check') throw new UsageError(`unknown action ${quote(action)}: the action is check`);
    if (extra[0] !== undefined) throw new UsageError(`unexpected argument ${quote(extra[0])}: check takes at most one storage id`);
    const format = values.format;
    if (format !== 'table' && format !== 'json') throw new UsageError(`--format must be table or json, not ${quote(format)}`);
    const options: Options = { id, key: values.key, format, waitMs: nonNegativeInt('--expiry-wait-ms', values['expiry-wait-ms']) };
    return async (config) => check(options, await config());
  },
};

async function check(options: Options, config: Config): Promise<number> {
  const entries = config.storages.filter((s) => options.id === undefined || s.id === options.id);
  if (entries.length === 0) {
    console.error(options.id === undefined ? 'no storage is configured (STORAGES or STORAGES_FILE)' : `no storage with id ${quote(options.id)} is configured`);
    return 2;
  }
  const { checkStorage, isFailure } = await import('./storages-check.js');
  const rows = await Promise.all(entries.map((e) => checkStorage(e, options.key, options.waitMs)));
  const problemOf = (r: Row) => [r.sign, r.fetch, r.expiry].find(isFailure);
  if (options.format === 'json') console.log(JSON.stringify(rows, null, 2));
  else console.log(rowTable(rows, problemOf));
  return rows.some((r) => problemOf(r)) ? 1 : 0;
}

function rowTable(rows: Row[], problemOf: (r: Row) => Failure | undefined): string {
  const paint = colours();
  const cell = (step: Step) => {
    if ('skipped' in step) return paint.dim(step.skipped ? `- (${step.skipped})` : '-');
    return step.ok ? paint.green('ok') : paint.red(step.code);
  };
  return table(
    ['id', 'kind', 'key', 'sign', 'fetch', 'expiry', 'detail'],
    rows.map((r) => [r.id, r.kind, r.key ?? '-', cell(r.sign), cell(r.fetch), cell(r.expiry), problemOf(r)?.message ?? '']),
  );
}
