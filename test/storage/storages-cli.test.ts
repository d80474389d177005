/**
 * `asset-meta storages check` as an operator runs it: a child process with STORAGES in its environment,
 * against Azurite and the development S3 server.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAzurite, type Azurite } from '../helpers/azurite.js';
import { startS3Server, type S3Server } from '../../scripts/dev/s3-server.js';

let azurite: Azurite;
let s3: S3Server;

beforeAll(async () => {
  [azurite, s3] = await Promise.all([startAzurite(), startS3Server()]);
  await azurite.createContainer('assets');
  await azurite.putBlob('assets', 'checks/first.txt', 'azure bytes');
  await s3.putObject('checks/first.txt', 's3 bytes');
  // Two objects: a listing of one key is then truncated, which s3rver alone answered with 500.
  await s3.putObject('checks/second.txt', 'more s3 bytes');
  await azurite.putBlob('assets', 'checks/second.txt', 'more azure bytes');
});

afterAll(async () => {
  await Promise.all([azurite?.close(), s3?.close()]);
});

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function cli(args: string[], env: Record<string, string>): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', 'src/cli.ts', ...args],
      { env: { PATH: process.env.PATH, NO_COLOR: '1', ...env }, timeout: 45_000 },
      (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

const storages = (azureKeyEnv: string, s3SecretEnv: string) =>
  JSON.stringify([
    { id: 'blob', kind: 'azure', account: azurite.account, container: 'assets', endpoint: azurite.endpoint, accountKeyEnv: azureKeyEnv },
    { id: 'main', kind: 's3', bucket: s3.bucket, region: s3.region, endpoint: s3.endpoint, forcePathStyle: true, accessKeyIdEnv: 'S3_KEY', secretAccessKeyEnv: s3SecretEnv },
  ]);

const secrets = () => ({
  AZ_KEY: azurite.accountKey,
  AZ_WRONG: randomBytes(64).toString('base64'),
  S3_KEY: s3.accessKeyId,
  S3_SECRET: s3.secretAccessKey,
  S3_WRONG: randomBytes(30).toString('base64'),
});

/** The table's row for one storage id, split into its cells. */
const row = (stdout: string, id: string) => stdout.split('\n').find((l) => l.startsWith(`${id} `))?.split(/\s{2,}/);

describe('asset-meta storages check', () => {
  it('signs, fetches and sees the URL expire on Azurite and the S3 server, listing an object when no key is named', async () => {
    const env = secrets();
    const run = await cli(['storages', 'check'], { ...env, STORAGES: storages('AZ_KEY', 'S3_SECRET') });
    expect(run.stderr).toBe('');
    expect(row(run.stdout, 'blob')).toEqual(['blob', 'azure', 'checks/first.txt', 'ok', 'ok', 'ok']);
    expect(row(run.stdout, 'main')).toEqual(['main', 's3', 'checks/first.txt', 'ok', 'ok', 'ok']);
    expect(run.code).toBe(0);
    for (const secret of [env.AZ_KEY, env.S3_SECRET]) expect(run.stdout).not.toContain(secret);
  });

  it('a wrong key fails clearly: ACCESS_DENIED in the row, exit 1, the secret nowhere', async () => {
    const env = secrets();
    const run = await cli(['storages', 'check', '--key', 'checks/first.txt', '--format', 'json'], {
      ...env,
      STORAGES: storages('AZ_WRONG', 'S3_WRONG'),
    });
    expect(run.code).toBe(1);
    const rows = JSON.parse(run.stdout) as { id: string; sign: unknown; fetch: { code?: string }; expiry: unknown }[];
    expect(rows.map((r) => [r.id, r.sign, r.fetch.code, r.expiry])).toEqual([
      ['blob', { ok: true }, 'ACCESS_DENIED', { skipped: 'the fetch failed' }],
      ['main', { ok: true }, 'ACCESS_DENIED', { skipped: 'the fetch failed' }],
    ]);
    for (const secret of [env.AZ_WRONG, env.S3_WRONG]) expect(run.stdout + run.stderr).not.toContain(secret);
  });

  it('checks only the storage named, and reports a missing object as NOT_FOUND', async () => {
    const run = await cli(['storages', 'check', 'main', '--key', 'checks/absent.txt'], { ...secrets(), STORAGES: storages('AZ_KEY', 'S3_SECRET') });
    expect(run.code).toBe(1);
    expect(row(run.stdout, 'main')?.slice(0, 5)).toEqual(['main', 's3', 'checks/absent.txt', 'ok', 'NOT_FOUND']);
    expect(row(run.stdout, 'blob')).toBeUndefined();
  });

  it('--help shows examples; an unknown id is a usage error', async () => {
    const help = await cli(['storages', 'check', '--help'], {});
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/Examples:\n\s+asset-meta storages check\n/);
    const unknown = await cli(['storages', 'check', 'nope'], { ...secrets(), STORAGES: storages('AZ_KEY', 'S3_SECRET') });
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/no storage with id "nope"/);
  });
});
