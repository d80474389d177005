/**
 * A newcomer's path with `npm run dev-store`: start the store with a few files, paste what it prints
 * into another shell, check the storage without naming a key, run a worker and enqueue a job, then stop
 * the store with a signal.
 */
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AssetResult } from '../../src/contract.js';
import { databaseUrl, dropSchema, redisUrl, uniqueName } from '../helpers/services.js';
import { cli, spawnCli } from './run-cli.js';

const devStore = 'scripts/dev/dev-store.ts';
let dir: string;
let store: ChildProcess;
let printed = '';
const schema = uniqueName('devstore');
const running: ChildProcess[] = [];

/** Resolves with what the process printed once `text` appears on its stdout. */
function waitFor(child: ChildProcess, text: string, timeoutMs = 30_000): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    const timer = setTimeout(() => reject(new Error(`no "${text}" within ${timeoutMs} ms; stderr: ${err}`)), timeoutMs);
    child.stderr!.on('data', (chunk: Buffer) => (err += chunk.toString()));
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes(text)) {
        clearTimeout(timer);
        resolve(out);
      }
    });
    child.once('exit', (code) => reject(new Error(`exited with ${code} before "${text}"; stderr: ${err}`)));
  });
}

const exited = (child: ChildProcess) =>
  new Promise<number | null>((resolve) => (child.exitCode !== null ? resolve(child.exitCode) : child.once('exit', (code) => resolve(code))));

/** The `export NAME=value` lines a user would paste, as an environment (single quotes undone). */
function exportsOf(text: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const m of text.matchAll(/^export ([A-Z_]+)=(.*)$/gm)) {
    const raw = m[2]!;
    env[m[1]!] = raw.startsWith("'") ? raw.slice(1, -1).replace(/'\\''/g, "'") : raw;
  }
  return env;
}

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'dev-store-cli-'));
  mkdirSync(path.join(dir, 'in', 'sub'), { recursive: true });
  writeFileSync(path.join(dir, 'in', 'first.txt'), 'first file\n');
  writeFileSync(path.join(dir, 'in', 'sub', 'second.txt'), 'second file\nwith two lines\n'); // 12 + 15 bytes
  store = spawnCli([path.join(dir, 'in'), '--storages-file', path.join(dir, 'storages.json')], {}, devStore);
  running.push(store);
  printed = await waitFor(store, 'Stop with Ctrl-C');
});

afterAll(async () => {
  for (const child of running) if (child.exitCode === null) child.kill('SIGKILL');
  await dropSchema(schema);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('npm run dev-store', () => {
  it.concurrent.each([
    [['--port', '70000'], 'npm run dev-store --: --port must be at most 65535, not 70000'],
    [['--bucket', 'No_Such'], 'npm run dev-store --: --bucket "No_Such" is not a valid bucket name'],
  ])('%j is a usage error', async (args, problem) => {
    const run = await cli(args, {}, 30_000, devStore);
    expect(run.stderr.split('\n').slice(0, 2)).toEqual([problem, expect.stringMatching(/^Usage: npm run dev-store -- /)]);
    expect(run.code).toBe(2);
  });

  it('prints its objects and the environment that makes it storage "dev"', () => {
    expect(printed).toMatch(/^dev store at http:\/\/127\.0\.0\.1:\d+, bucket assets, 2 object\(s\):\n {2}first\.txt\n {2}sub\/second\.txt\n/);
    const env = exportsOf(printed);
    expect(Object.keys(env).sort()).toEqual(['DEV_STORE_ACCESS_KEY_ID', 'DEV_STORE_SECRET_ACCESS_KEY', 'STORAGES_FILE']);
    expect(JSON.parse(readFileSync(env.STORAGES_FILE!, 'utf8'))).toEqual([
      expect.objectContaining({ id: 'dev', kind: 's3', bucket: 'assets', forcePathStyle: true, accessKeyIdEnv: 'DEV_STORE_ACCESS_KEY_ID' }),
    ]);
  });

  it('storages check passes on it without --key, listing one of its two objects', async () => {
    const run = await cli(['storages', 'check', 'dev', '--format', 'json'], exportsOf(printed));
    expect(JSON.parse(run.stdout)).toEqual([
      { id: 'dev', kind: 's3', key: 'first.txt', sign: { ok: true }, fetch: { ok: true, note: 'HTTP 206' }, expiry: expect.objectContaining({ ok: true }) },
    ]);
    expect(run.code).toBe(0);
  });

  it('a worker reads a job from it and enqueue --wait prints the result', async () => {
    const env = { ...exportsOf(printed), REDIS_URL: redisUrl, DATABASE_URL: databaseUrl, DATABASE_SCHEMA: schema, QUEUE_NAME: uniqueName('devstore'), HEALTH_PORT: '0', TMP_DIR: path.join(dir, 'tmp') };
    const worker = spawnCli(['worker'], env);
    running.push(worker);
    const run = await cli(['enqueue', '--storage', 'dev', '--key', 'sub/second.txt', '--wait', '--timeout-ms', '60000'], env, 90_000);
    const result = JSON.parse(run.stdout) as AssetResult;
    expect(result).toMatchObject({ assetId: 'sub/second.txt', status: 'ok', dataType: 'text', sizeBytes: 27, text: { lineCount: 2 } });
    expect(run.code).toBe(0);
    worker.kill('SIGTERM');
    expect(await exited(worker)).toBe(0);
  }, 120_000); // a worker's start loads every extractor in each thread: slow on a busy machine

  it('SIGTERM stops it: exit 0, the port closed', async () => {
    const endpoint = /dev store at (http:\/\/[^,]+),/.exec(printed)![1]!;
    store.kill('SIGTERM');
    expect(await exited(store)).toBe(0);
    await expect(fetch(endpoint)).rejects.toThrow();
    expect(existsSync(path.join(dir, 'storages.json'))).toBe(true);
  });
});
