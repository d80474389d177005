/**
 * Every asset-meta command answers --help with its usage and examples, exit 0, and starts nothing.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { expect, it } from 'vitest';

const run = promisify(execFile);
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

it.concurrent.each(['worker', 'probe', 'enqueue', 'replay', 'storages'])('asset-meta %s --help', async (command) => {
  const { stdout } = await run(process.execPath, ['--import', 'tsx', 'src/cli.ts', command, '--help'], {
    cwd: root,
    timeout: 30_000,
    // A worker that started by mistake would connect here and never exit; the timeout would fail the test.
    env: { ...process.env, REDIS_URL: 'redis://127.0.0.1:1' },
  });
  expect(stdout).toMatch(new RegExp(`^Usage: asset-meta ${command}`));
  expect(stdout).toContain('Examples:');
});
