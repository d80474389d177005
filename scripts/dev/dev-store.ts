/**
 * `npm run dev-store -- [path|dir]...`: the development S3 store (the one `npm run demo` starts) on its
 * own, so that a newcomer can run a worker, enqueue jobs and check storages against it by hand. A
 * development tool: not part of the installed package.
 */
import { readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { expandPaths } from '../../src/cli/files.js';
import { nonNegativeInt, parseCommandArgs, quote, runCommand, UsageError, type Command } from '../../src/cli/usage.js';
import { startS3Server } from './s3-server.js';

export const devStoreHelp = `Usage: npm run dev-store -- [path|dir]... [--port N] [--bucket NAME] [--id ID] [--storages-file PATH]

Runs an S3-compatible store on 127.0.0.1 (s3rver behind a proxy that checks every signature, as
npm run demo uses) until Ctrl-C or SIGTERM, after uploading the files named: a file under its own
name, a directory's files under their paths inside it. Prints the environment that makes it the storage
ID for a worker, enqueue and storages check in another shell. Its credentials are made up at each start;
its objects live in a temporary directory that is removed when it stops. For trying the worker only.

Options:
  --port N              port to listen on (default: a free one)
  --bucket NAME         the bucket (default assets)
  --id ID               the storage id in the printed entry (default dev)
  --storages-file PATH  write the storage entry to PATH (JSON) and print STORAGES_FILE instead of STORAGES
  -h, --help            this text

Examples:
  npm run dev-store                     (with no path: the fixtures)
  npm run dev-store -- photo.jpg --port 9000 --storages-file dev-storages.json`;

/** S3's bucket naming rules (https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html), in short. */
const bucketName = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
const maxPort = 65_535;

interface Options {
  inputs: string[];
  port: number;
  bucket: string;
  id: string;
  storagesFile: string | undefined;
}

export const devStoreCommand: Command = {
  help: devStoreHelp,
  parse(argv) {
    const { values, positionals } = parseCommandArgs(
      argv,
      {
        port: { type: 'string', default: '0' },
        bucket: { type: 'string', default: 'assets' },
        id: { type: 'string', default: 'dev' },
        'storages-file': { type: 'string' },
      },
      true,
    );
    const port = nonNegativeInt('--port', values.port);
    if (port > maxPort) throw new UsageError(`--port must be at most ${maxPort}, not ${port}`);
    if (!bucketName.test(values.bucket)) throw new UsageError(`--bucket ${quote(values.bucket)} is not a valid bucket name`);
    if (!/^\S{1,128}$/.test(values.id)) throw new UsageError(`--id must be 1 to 128 characters without spaces, not ${quote(values.id)}`);
    const options: Options = { inputs: positionals.length ? positionals : ['fixtures'], port, bucket: values.bucket, id: values.id, storagesFile: values['storages-file'] };
    return () => runStore(options);
  },
};

/** Local files and the keys they are stored under. Only regular files: a FIFO would block the read for ever. */
async function uploads(inputs: string[]): Promise<{ file: string; key: string }[]> {
  const out: { file: string; key: string }[] = [];
  for (const input of inputs) {
    const isDirectory = await stat(input).then((st) => st.isDirectory(), () => false);
    for (const file of await expandPaths([input])) {
      const st = await stat(file).catch(() => undefined);
      if (!st?.isFile()) throw new UsageError(`${quote(file)} is ${st ? 'not a regular file' : 'not there'}`);
      const key = isDirectory ? path.relative(input, file) : path.basename(file);
      out.push({ file, key: key.split(path.sep).join('/') });
    }
  }
  return out;
}

async function runStore(options: Options): Promise<number> {
  const files = await uploads(options.inputs);
  // Listening from the start: a signal during the uploads still removes the store's directory.
  const stopped = new Promise<string>((resolve) => {
    process.once('SIGINT', () => resolve('SIGINT'));
    process.once('SIGTERM', () => resolve('SIGTERM'));
  });
  const server = await startS3Server({ buckets: [options.bucket], port: options.port });
  try {
    for (const { file, key } of files) await server.putObject(key, await readFile(file));
    const keyIdEnv = 'DEV_STORE_ACCESS_KEY_ID';
    const secretEnv = 'DEV_STORE_SECRET_ACCESS_KEY';
    const entry = {
      id: options.id,
      kind: 's3',
      bucket: server.bucket,
      region: server.region,
      endpoint: server.endpoint,
      forcePathStyle: true,
      accessKeyIdEnv: keyIdEnv,
      secretAccessKeyEnv: secretEnv,
    };
    if (options.storagesFile) {
      await writeFile(options.storagesFile, `${JSON.stringify([entry], null, 2)}\n`);
    }
    const example = files[0]?.key ?? 'KEY';
    console.log(
      [
        `dev store at ${server.endpoint}, bucket ${server.bucket}, ${files.length} object(s)${files.length ? ':' : ''}`,
        ...files.map((f) => `  ${f.key}`),
        '',
        `In another shell, to use it as storage "${options.id}":`,
        `export ${keyIdEnv}=${shellQuote(server.accessKeyId)}`,
        `export ${secretEnv}=${shellQuote(server.secretAccessKey)}`,
        options.storagesFile ? `export STORAGES_FILE=${shellQuote(path.resolve(options.storagesFile))}` : `export STORAGES=${shellQuote(JSON.stringify([entry]))}`,
        `asset-meta storages check ${options.id}`,
        'asset-meta worker',
        `asset-meta enqueue --storage ${options.id} --key ${shellQuote(example)} --wait`,
        '',
        'Stop with Ctrl-C; the objects are removed.',
      ].join('\n'),
    );
    console.error(`dev store: ${await stopped}, stopping`);
    return 0;
  } finally {
    await server.close();
  }
}

/** A word the shell reads back as it is. */
function shellQuote(text: string): string {
  return /^[\w@%+=:,./-]+$/.test(text) ? text : `'${text.replace(/'/g, `'\\''`)}'`;
}

runCommand('npm run dev-store --', devStoreCommand, process.argv.slice(2), () => Promise.reject(new Error('dev-store reads no configuration'))).then(
  (code) => (process.exitCode = code),
  (err: unknown) => {
    console.error(`dev-store: ${err instanceof Error ? err.message : String(err)}`);
    process.exitCode = 1;
  },
);
