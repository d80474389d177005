/**
 * `asset-meta probe` on what a user's disk holds besides good files: missing paths, FIFOs, sockets,
 * devices, and URLs that carry a signature. Every input gets its own result and the process exits.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AssetResult } from '../../src/contract.js';
import { cli } from './run-cli.js';

let dir: string;
let temp: string;
let good: string;
let socketServer: net.Server;
let httpServer: http.Server;
let origin: string;
const text = 'hello, probe\nsecond line\n'; // 25 bytes, two lines of plain ASCII text

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'probe-cli-'));
  temp = mkdtempSync(path.join(tmpdir(), 'probe-cli-tmp-'));
  good = path.join(dir, 'good.txt');
  writeFileSync(good, text);
  execFileSync('mkfifo', [path.join(dir, 'pipe')]);
  socketServer = net.createServer();
  await new Promise<void>((resolve) => socketServer.listen(path.join(dir, 'sock'), resolve));
  httpServer = http.createServer((req, res) => {
    if (req.url?.startsWith('/note.txt')) res.writeHead(200, { 'content-type': 'text/plain' }).end(text);
    else res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => httpServer.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(httpServer.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((resolve) => socketServer?.close(resolve));
  await new Promise((resolve) => httpServer?.close(resolve));
  for (const d of [dir, temp]) if (d) rmSync(d, { recursive: true, force: true });
});

const env = () => ({ TMP_DIR: temp });

describe('asset-meta probe', () => {
  it('answers every input of a batch when one is missing, in order, and exits 1', async () => {
    const missing = path.join(dir, 'missing.jpg');
    const run = await cli(['probe', good, missing, good], env());
    expect(run.stderr).toBe('');
    const results = JSON.parse(run.stdout) as AssetResult[];
    expect(results.map((r) => [r.assetId, r.status, r.error?.code])).toEqual([
      [good, 'ok', undefined],
      [missing, 'failed', 'NOT_FOUND'],
      [good, 'ok', undefined],
    ]);
    expect(results[0]).toMatchObject({ dataType: 'text', sizeBytes: 25, text: { lineCount: 2 } });
    expect(results[1]!.error?.message).toBe('no such file');
    expect(run.code).toBe(1);
  });

  it('refuses a FIFO, a socket and a device at once, without opening them, and exits', async () => {
    const inputs = [path.join(dir, 'pipe'), path.join(dir, 'sock'), '/dev/null'];
    // A FIFO opened for reading blocks until a writer comes: before the check, this run never ended.
    const run = await cli(['probe', ...inputs, '--format', 'jsonl'], env(), 20_000);
    expect(run.killed).toBe(false);
    const results = run.stdout.trim().split('\n').map((line) => JSON.parse(line) as AssetResult);
    expect(results.map((r) => [r.assetId, r.error?.code, r.error?.message])).toEqual([
      [inputs[0], 'UNSUPPORTED_TYPE', 'a FIFO (named pipe), not a regular file'],
      [inputs[1], 'UNSUPPORTED_TYPE', 'a socket, not a regular file'],
      [inputs[2], 'UNSUPPORTED_TYPE', 'a character device, not a regular file'],
    ]);
    expect(run.code).toBe(1);
  });

  it('reports a FIFO found while walking a directory like any other input', async () => {
    const run = await cli(['probe', dir, '--format', 'table'], env(), 20_000);
    expect(run.killed).toBe(false);
    const rows = run.stdout.split('\n');
    expect(rows.find((l) => l.startsWith(path.join(dir, 'pipe')))).toMatch(/failed .*UNSUPPORTED_TYPE: a FIFO/);
    expect(rows.find((l) => l.startsWith(good))).toMatch(/ ok +text /);
    expect(run.code).toBe(1);
  });

  it('names a URL by origin and path only: the query string (a signature) is not printed', async () => {
    const secret = 'Sig-5ecret-value';
    const url = `${origin}/note.txt?X-Amz-Signature=${secret}&X-Amz-Credential=AKEXAMPLE`;
    const gone = `${origin}/gone.txt?sig=${secret}`;
    const run = await cli(['probe', url, gone], { ...env(), URL_ALLOWED_HOSTS: '127.0.0.1' });
    const results = JSON.parse(run.stdout) as AssetResult[];
    expect(results.map((r) => [r.assetId, r.status, r.error?.code])).toEqual([
      [`${origin}/note.txt?[redacted]`, 'ok', undefined],
      [`${origin}/gone.txt?[redacted]`, 'failed', 'NOT_FOUND'],
    ]);
    expect(results[0]).toMatchObject({ dataType: 'text', sizeBytes: 25 });
    expect(run.stdout + run.stderr).not.toContain(secret);
    expect(run.stdout + run.stderr).not.toContain('AKEXAMPLE');
  });

  it('an empty directory is an empty array, exit 0', async () => {
    const empty = mkdtempSync(path.join(temp, 'empty-'));
    const run = await cli(['probe', empty], env());
    expect([run.stdout.trim(), run.code]).toEqual(['[]', 0]);
  });

  it('prints timings to 0.1 ms', async () => {
    const run = await cli(['probe', good], env());
    const result = JSON.parse(run.stdout) as AssetResult;
    for (const ms of Object.values(result.timingsMs)) expect(String(ms)).toMatch(/^\d+(\.\d)?$/);
    expect(run.code).toBe(0);
  });
});
