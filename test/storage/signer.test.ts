/**
 * The backend's signing endpoint (signer storages) as a scripted loopback server: a good answer, and the
 * ways an answer goes wrong, each a coded error whose message says what happened.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSignerStorage, maxSignerAnswerBytes } from '../../src/storage/signer.js';
import { startObjectServer, type ObjectServer } from '../helpers/object-server.js';

let server: ObjectServer;
const timeoutMs = 500;
const sign = () => createSignerStorage({ id: 'backend', kind: 'signer', url: `${server.origin}/sign`, timeoutMs }).sign({ assetId: 'a', key: 'k' });
const json = { 'content-type': 'application/json' };

beforeAll(async () => {
  server = await startObjectServer();
});

afterAll(() => server?.close());

describe('signer', () => {
  it('a good answer gives the URL and its expiry', async () => {
    server.handle = (_req, res) => void res.writeHead(200, json).end(JSON.stringify({ url: 'https://cdn.example/x?sig=1', expiresAt: '2030-01-01T00:00:00Z' }));
    expect(await sign()).toEqual({ url: 'https://cdn.example/x?sig=1', expiresAt: new Date('2030-01-01T00:00:00Z') });
  });

  it('headers, then nothing: "timed out" within its timeout, not "an answer without a valid url"', async () => {
    server.handle = (_req, res) => {
      res.writeHead(200, json);
      res.write('{"url": "https://cdn.exa');
    };
    const started = Date.now();
    const err = await sign().catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'STORAGE_UNAVAILABLE', retriable: true, message: `signer backend timed out after ${timeoutMs} ms while sending its answer` });
    expect(Date.now() - started).toBeLessThan(timeoutMs * 4);
  });

  it('no headers at all: "timed out" before its answer began', async () => {
    server.handle = () => {};
    await expect(sign()).rejects.toMatchObject({ code: 'STORAGE_UNAVAILABLE', message: expect.stringMatching(/timed out after 500 ms before its answer began/) });
  });

  it('an answer that is not a URL is still "without a valid url"', async () => {
    server.handle = (_req, res) => void res.writeHead(200, json).end('{"url":"file:///etc/passwd"}');
    await expect(sign()).rejects.toMatchObject({ code: 'STORAGE_UNAVAILABLE', message: 'signer backend gave an answer without a valid url' });
  });

  it(`an answer over ${maxSignerAnswerBytes} bytes is refused, whether it says its length or not`, async () => {
    const big = JSON.stringify({ url: 'https://cdn.example/x', pad: 'x'.repeat(maxSignerAnswerBytes) });
    server.handle = (_req, res) => void res.writeHead(200, { ...json, 'content-length': Buffer.byteLength(big) }).end(big);
    await expect(sign()).rejects.toMatchObject({ code: 'STORAGE_UNAVAILABLE', message: expect.stringMatching(/over the 65536 an answer may have/) });
    server.handle = (_req, res) => {
      res.writeHead(200, { ...json, 'transfer-encoding': 'chunked' });
      res.write(big.slice(0, 40_000));
      res.end(big.slice(40_000));
    };
    await expect(sign()).rejects.toMatchObject({ code: 'STORAGE_UNAVAILABLE', message: expect.stringMatching(/more than the 65536 bytes/) });
  });
});
