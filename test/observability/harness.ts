/**
 * What the operability tests share: a local HTTP origin for assets (with a signer endpoint and a way to
 * hold a response), a worker config on real Redis and PostgreSQL, log capture, and small HTTP helpers.
 */
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { loadConfig, type Config } from '../../src/config.js';
import { createLogger, type Logger } from '../../src/observability/logger.js';

export interface AssetServer {
  readonly origin: string;
  /** Paths asked for, in order, with their query strings. */
  readonly requests: string[];
  /** Answers `path` only once `release()` is called; resolves when a request for it has arrived. */
  hold(path: string): { arrived: Promise<void>; release(): void };
  close(): Promise<void>;
}

/**
 * Serves `files` by path (any query string accepted, as a signed URL would carry one), 404 otherwise.
 * `POST /sign` is a backend signer (docs/contract.md §2): it answers a URL of this server for the key, with a
 * signed-looking query string.
 */
export async function startAssetServer(files: Record<string, Buffer>, signedQuery: string): Promise<AssetServer> {
  const requests: string[] = [];
  const held = new Map<string, { arrive(): void; wait: Promise<void> }>();
  let origin = '';
  const send = (res: ServerResponse, path: string) => {
    const body = files[path];
    if (!body) return res.writeHead(404, { 'content-type': 'text/plain' }).end('no such object');
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': body.length }).end(body);
  };
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    requests.push(url.pathname + url.search);
    if (req.method === 'POST' && url.pathname === '/sign') {
      let raw = '';
      req.on('data', (c: Buffer) => (raw += c.toString()));
      req.on('end', () => {
        const { key } = JSON.parse(raw) as { key: string };
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ url: `${origin}/${key}?${signedQuery}` }));
      });
      return;
    }
    const hold = held.get(url.pathname);
    if (hold) {
      hold.arrive();
      void hold.wait.then(() => send(res, url.pathname));
      return;
    }
    send(res, url.pathname);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    origin,
    requests,
    hold(path) {
      let arrive!: () => void;
      let release!: () => void;
      const arrived = new Promise<void>((r) => (arrive = r));
      const wait = new Promise<void>((r) => (release = r));
      held.set(path, { arrive, wait });
      return {
        arrived,
        release: () => {
          held.delete(path);
          release();
        },
      };
    },
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

/** A worker config on the test services; every value may be overridden. */
export function testConfig(env: Record<string, string>): Config {
  return loadConfig({
    LOG_LEVEL: 'info',
    WORKER_CONCURRENCY: '2',
    // The asset server is on loopback: `url` sources may name it.
    URL_ALLOWED_HOSTS: '127.0.0.1',
    JOB_LOCK_DURATION_MS: '5000',
    ...env,
  });
}

/** A logger whose JSON lines are kept in memory (pino writes to our stream). */
export function captureLogs(level = 'info'): { logger: Logger; text(): string; lines(): Record<string, unknown>[] } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      chunks.push(chunk.toString());
      done();
    },
  });
  const text = () => chunks.join('');
  return {
    logger: createLogger(level, stream),
    text,
    lines: () =>
      text()
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

export async function get(url: string): Promise<{ status: number; type: string; text: string; json(): any }> {
  const res = await fetch(url);
  const text = await res.text();
  return { status: res.status, type: res.headers.get('content-type') ?? '', text, json: () => JSON.parse(text) };
}
