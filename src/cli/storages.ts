/** `asset-meta storages check`: the command line; the checks (storages-check.ts) load once the arguments are good. */
import { nonNegativeInt, oneOf, parseCommandArgs, quote, UsageError, type Command } from './usage.js';

export const storagesCommand: Command = {
  help: `Usage: asset-meta storages check [id] [--key KEY] [--format table|json] [--expiry-wait-ms N]

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
  STORAGES_FILE=storages.json asset-meta storages check --key healthcheck.txt --format json`,
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
    const format = oneOf('--format', values.format, ['table', 'json']);
    const options = { id, key: values.key, format, waitMs: nonNegativeInt('--expiry-wait-ms', values['expiry-wait-ms']) };
    return async (config) => {
      const resolved = await config();
      return (await import('./storages-check.js')).checkStorages(options, resolved);
    };
  },
};
