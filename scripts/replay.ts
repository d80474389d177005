/**
 * `npm run replay -- [dir] [--update] ...` (and `npm run demo`): `asset-meta replay` with the development
 * S3-compatible store (scripts/dev/s3-server.ts, which checks every signature) started on loopback when no
 * --storage is named, so that it works on a fresh checkout with only Redis and PostgreSQL.
 */
import '../src/node-version.js';
import { replayCommandWith, type Target } from '../src/cli/replay.js';
import { runCommand } from '../src/cli/usage.js';
import { loadConfig } from '../src/config.js';
import { startS3Server } from './dev/s3-server.js';

async function loopback(): Promise<Target> {
  const server = await startS3Server();
  return {
    storage: {
      id: 'replay',
      kind: 's3',
      bucket: server.bucket,
      region: server.region,
      endpoint: server.endpoint,
      forcePathStyle: true,
      urlTtlSeconds: 300,
      credentials: { accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey },
    },
    upload: (key, body) => server.putObject(key, body),
    close: () => server.close(),
  };
}

runCommand('npm run replay --', replayCommandWith(loopback), process.argv.slice(2), async () => loadConfig()).then(
  (code) => (process.exitCode = code),
  (err: unknown) => {
    console.error(`replay: ${err instanceof Error ? err.message : String(err)}`);
    process.exitCode = 1;
  },
);
