/**
 * A scripted loopback HTTP server for download tests: each test sets what it answers (`server.handle`),
 * and `answerObject` answers as an object store does (RFC 9110 ranges, validators, If-Match), with knobs
 * to misbehave the ways stores and proxies do. Every request is logged without its query string.
 */
import http, { type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface LoggedRequest {
  path: string;
  range: string | undefined;
  ifMatch: string | undefined;
  at: number;
}

export type Handler = (req: IncomingMessage, res: ServerResponse, n: number) => void | Promise<void>;

export interface ObjectServer {
  /** `http://127.0.0.1:<port>` */
  origin: string;
  port: number;
  requests: LoggedRequest[];
  /** What the server answers; replaced by each test. */
  handle: Handler;
  close(): Promise<void>;
}

export async function startObjectServer(): Promise<ObjectServer> {
  const requests: LoggedRequest[] = [];
  const state: { handle: Handler } = { handle: (_req, res) => void res.writeHead(404).end() };
  const server: Server = http.createServer((req, res) => {
    const n = requests.push({
      path: (req.url ?? '/').split('?')[0]!,
      range: req.headers.range,
      ifMatch: req.headers['if-match'],
      at: Date.now(),
    });
    Promise.resolve(state.handle(req, res, n - 1)).catch(() => res.destroy());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    origin: `http://127.0.0.1:${port}`,
    port,
    requests,
    get handle() {
      return state.handle;
    },
    set handle(h: Handler) {
      state.handle = h;
    },
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

export interface StoredObject {
  body: Buffer;
  etag?: string;
  lastModified?: string;
  contentEncoding?: string;
}

export interface StoreManners {
  /** A 206 carries at most this many bytes (RFC 9110 §15.3.7 allows fewer than asked). */
  maxReplyBytes?: number;
  /** `strong`: If-Match compared as RFC 9110 §13.1.1 says (a weak tag never matches); `ignore`: not looked at. */
  ifMatch?: 'strong' | 'ignore';
}

/**
 * The range a GET asks for as object stores read it (`bytes=a-b` or `bytes=a-`, clamped to the object's
 * end): undefined without one, 'unsatisfiable' from past the end (or ending before it starts).
 */
export function rangeOf(header: string | undefined, size: number): { start: number; end: number } | 'unsatisfiable' | undefined {
  const range = /^bytes=(\d+)-(\d*)$/.exec(header ?? '');
  if (!range) return undefined;
  const start = Number(range[1]);
  const end = Math.min(range[2] ? Number(range[2]) : size - 1, size - 1);
  return start > end ? 'unsatisfiable' : { start, end };
}

/** Answers a GET for `obj` as an object store does: 200 without Range, 206 with one, 416 past the end. */
export function answerObject(req: IncomingMessage, res: ServerResponse, obj: StoredObject, manners: StoreManners = {}): void {
  const validators = {
    ...(obj.etag ? { etag: obj.etag } : {}),
    ...(obj.lastModified ? { 'last-modified': obj.lastModified } : {}),
    ...(obj.contentEncoding ? { 'content-encoding': obj.contentEncoding } : {}),
  };
  const ifMatch = req.headers['if-match'];
  if (ifMatch && (manners.ifMatch ?? 'strong') === 'strong') {
    const strongMatch = obj.etag && !obj.etag.startsWith('W/') && !ifMatch.startsWith('W/') && ifMatch === obj.etag;
    if (!strongMatch) return void res.writeHead(412, validators).end();
  }
  const size = obj.body.length;
  const range = rangeOf(req.headers.range, size);
  if (!range) return void res.writeHead(200, { ...validators, 'content-length': size }).end(obj.body);
  if (range === 'unsatisfiable') return void res.writeHead(416, { ...validators, 'content-range': `bytes */${size}` }).end();
  let { start, end } = range;
  if (manners.maxReplyBytes) end = Math.min(end, start + manners.maxReplyBytes - 1);
  res.writeHead(206, { ...validators, 'content-range': `bytes ${start}-${end}/${size}`, 'content-length': end - start + 1 });
  res.end(obj.body.subarray(start, end + 1));
}

/** Deterministic bytes that are not a known format (detection reads them as binary or text). */
export function patterned(length: number, seed = 1): Buffer {
  return Buffer.from(Array.from({ length }, (_, i) => (i * 31 + seed * 17 + (i >> 8)) % 251));
}

/** A PCM WAV: 44-byte header, `dataBytes` of silence, a LIST chunk after the data (plan-wav reads both ends). */
export function smallWav(dataBytes: number): Buffer {
  const list = Buffer.concat([Buffer.from('LIST'), Buffer.alloc(4), Buffer.from('INFOINAM'), Buffer.alloc(4), Buffer.from('test\0\0')]);
  list.writeUInt32LE(list.length - 8, 4);
  list.writeUInt32LE(6, 16);
  const h = Buffer.alloc(44);
  h.write('RIFF', 0);
  h.writeUInt32LE(36 + dataBytes + list.length, 4);
  h.write('WAVEfmt ', 8);
  h.writeUInt32LE(16, 16);
  h.writeUInt16LE(1, 20);
  h.writeUInt16LE(1, 22);
  h.writeUInt32LE(8000, 24);
  h.writeUInt32LE(16000, 28);
  h.writeUInt16LE(2, 32);
  h.writeUInt16LE(16, 34);
  h.write('data', 36);
  h.writeUInt32LE(dataBytes, 40);
  return Buffer.concat([h, Buffer.alloc(dataBytes), list]);
}
