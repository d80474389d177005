/**
 * Crafted objects that push each range planner into unbounded work, fetched through the fetch threads
 * from a scripted Range server: a PDF cross-reference stream that inflates to 1 GiB, one that lists three
 * million objects, one whose rows have no bytes, an MP4 whose boxes nest 200,000 deep, an MP4 and a WAV of 200,000 empty boxes or chunks, a
 * DICOM header with no Pixel Data tag. Each ends as a whole read (the planner unsure) with few range
 * requests, while this thread's event loop stays responsive and the process's memory stays bounded.
 */
import { createHash } from 'node:crypto';
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { createDeflate, deflateSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FetchPool } from '../../src/storage/fetch/pool.js';
import { TempDir } from '../../src/storage/temp-dir.js';
import { freshTempDir } from '../helpers/services.js';

const MiB = 1024 * 1024;
const tmp = freshTempDir();
const limits = { maxBytes: 256 * MiB, timeoutMs: 30_000, stallTimeoutMs: 10_000 };
/**
 * Main-thread event-loop delay allowed while a bomb is planned. An inflate on this thread blocked it 9 s;
 * with nothing of the plan on it, what remains is the machine's scheduling (tens of ms at a load of 10 on
 * 2 cores).
 */
const maxLoopDelayMs = 200;
/** Growth of the process's peak RSS allowed over all bombs (the 1 GiB inflate alone would exceed it). */
const maxRssGrowthMiB = 300;

const served = freshTempDir();
const objects = new Map<string, Buffer>();
let server: ChildProcess;
let base: string;
let temp: TempDir;
let pool: FetchPool;
let rssBeforeKiB: number;

/**
 * Serves the files of a directory with Range support, from another process so that this thread's event
 * loop measures the replica's side alone; `/count/<name>` answers how many requests `<name>` had.
 */
const rangeServerScript = `
const fs = require('node:fs'), path = require('node:path');
const dir = process.argv[1], counts = new Map(), files = new Map();
const server = require('node:http').createServer((req, res) => {
  const [, kind, name] = /^\\/(count\\/)?(.+)$/.exec(req.url);
  if (kind) return res.end(String(counts.get(name) ?? 0));
  counts.set(name, (counts.get(name) ?? 0) + 1);
  if (!files.has(name)) files.set(name, fs.readFileSync(path.join(dir, name)));
  const body = files.get(name);
  const range = /^bytes=(\\d+)-(\\d*)$/.exec(req.headers.range ?? '');
  if (!range) return res.writeHead(200, { 'content-length': body.length }).end(body);
  const start = Number(range[1]), end = Math.min(body.length - 1, range[2] ? Number(range[2]) : body.length - 1);
  res.writeHead(206, { 'content-length': end - start + 1, 'content-range': 'bytes ' + start + '-' + end + '/' + body.length });
  res.end(body.subarray(start, end + 1));
});
server.listen(0, '127.0.0.1', () => console.log(server.address().port));`;
const requestsFor = async (name: string) => Number(await (await fetch(`${base}/count/${name}`)).text());

/** 1 GiB of zeros, zlib-deflated (about 1 MB), made by streaming so this process never holds the GiB. */
async function zeroBomb(bytes: number): Promise<Buffer> {
  const deflate = createDeflate({ level: 9 });
  const out: Buffer[] = [];
  deflate.on('data', (c: Buffer) => out.push(c));
  const zeros = Buffer.alloc(MiB);
  for (let i = 0; i < bytes / MiB; i++) if (!deflate.write(zeros)) await new Promise((r) => deflate.once('drain', r));
  deflate.end();
  await new Promise((r) => deflate.once('end', r));
  return Buffer.concat(out);
}

/** A PDF whose only cross-reference section is the stream object 1 at offset 9, padded to `size` bytes. */
function xrefStreamPdf(dict: string, data: Buffer, size: number): Buffer {
  const head = Buffer.from(`%PDF-1.5\n1 0 obj\n<< /Type /XRef ${dict} /Length ${data.length} >>\nstream\n`, 'latin1');
  const end = Buffer.from('\nendstream\nendobj\n', 'latin1');
  const tail = Buffer.from('startxref\n9\n%%EOF\n', 'latin1');
  const pad = Buffer.alloc(size - head.length - data.length - end.length - tail.length, 0x20);
  return Buffer.concat([head, data, end, pad, tail]);
}

/** Objects listed by 'pdf-many-objects': three times plan-pdf.ts's cap of a million. */
const manyObjects = 3_000_000;
/**
 * Xref stream rows of /W [1 3 0], object k in use (type 1) at offset 9 + k, each row PNG-Up predicted
 * (/Predictor 12 /Columns 4: a filter byte 2, then the row minus the row above) so that they deflate small.
 */
function objectRows(count: number): Buffer {
  const rows = Buffer.alloc(count * 5);
  const previous = Buffer.alloc(4);
  const row = Buffer.alloc(4);
  for (let k = 0; k < count; k++) {
    row[0] = 1;
    row.writeUIntBE(9 + k, 1, 3);
    rows[k * 5] = 2;
    for (let c = 0; c < 4; c++) rows[k * 5 + 1 + c] = (row[c]! - previous[c]!) & 0xff;
    row.copy(previous);
  }
  return rows;
}

const box = (type: string, payload: Buffer | number) => {
  const body = typeof payload === 'number' ? Buffer.alloc(payload) : payload;
  const header = Buffer.alloc(8);
  header.writeUInt32BE(8 + body.length, 0);
  header.write(type, 4, 'latin1');
  return Buffer.concat([header, body]);
};
const ftyp = box('ftyp', Buffer.from('isom\0\0\0\x01isomiso2', 'latin1'));

/** An MP4 whose moov holds `depth` trak boxes each inside the last, then an 8 MiB mdat. */
function nestedMp4(depth: number): Buffer {
  const moov = Buffer.alloc(8 + depth * 8);
  for (let i = 0; i <= depth; i++) {
    moov.writeUInt32BE(moov.length - i * 8, i * 8);
    moov.write(i === 0 ? 'moov' : 'trak', i * 8 + 4, 'latin1');
  }
  return Buffer.concat([ftyp, moov, box('mdat', 8 * MiB)]);
}

/** An MP4 whose top-level boxes after the first 512 KiB are `count` empty free boxes, then moov and mdat. */
function manyBoxesMp4(count: number): Buffer {
  const empties = Buffer.alloc(count * 8);
  for (let i = 0; i < count; i++) {
    empties.writeUInt32BE(8, i * 8);
    empties.write('free', i * 8 + 4, 'latin1');
  }
  return Buffer.concat([ftyp, box('free', 512 * 1024), empties, box('moov', 64), box('mdat', 8 * MiB)]);
}

/** A WAV whose chunks after the first 512 KiB are `count` empty JUNK chunks, then 8 MiB of data. */
function manyChunksWav(count: number): Buffer {
  const chunk = (id: string, payload: Buffer | number) => {
    const body = typeof payload === 'number' ? Buffer.alloc(payload) : payload;
    const header = Buffer.alloc(8);
    header.write(id, 0, 'latin1');
    header.writeUInt32LE(body.length, 4);
    return Buffer.concat([header, body]);
  };
  const fmt = Buffer.alloc(16);
  fmt.writeUInt16LE(1, 0); // PCM
  fmt.writeUInt16LE(2, 2);
  fmt.writeUInt32LE(48_000, 4);
  fmt.writeUInt32LE(192_000, 8);
  fmt.writeUInt16LE(4, 12);
  fmt.writeUInt16LE(16, 14);
  const empties = Buffer.concat(Array.from({ length: count }, () => chunk('JUNK', 0)));
  const body = Buffer.concat([Buffer.from('WAVE'), chunk('fmt ', fmt), chunk('JUNK', 512 * 1024), empties, chunk('data', 8 * MiB)]);
  const riff = Buffer.alloc(8);
  riff.write('RIFF', 0, 'latin1');
  riff.writeUInt32LE(body.length, 4);
  return Buffer.concat([riff, body]);
}

/** DICOM (preamble, DICM) followed by 20 MiB of bytes with no Pixel Data tag in either byte order. */
function dicomWithoutPixelData(): Buffer {
  const body = Buffer.alloc(20 * MiB, 0x41);
  return Buffer.concat([Buffer.alloc(128), Buffer.from('DICM', 'latin1'), body]);
}

beforeAll(async () => {
  objects.set('pdf-inflate-bomb', xrefStreamPdf('/Size 1 /W [1 2 1] /Filter /FlateDecode', await zeroBomb(1024 * MiB), 6 * MiB));
  objects.set('pdf-many-objects', xrefStreamPdf(`/Size ${manyObjects} /W [1 3 0] /Filter /FlateDecode /DecodeParms << /Predictor 12 /Columns 4 >>`, deflateSync(objectRows(manyObjects)), 24 * MiB));
  objects.set('pdf-empty-rows', xrefStreamPdf('/Size 1 /W [0 0 0] /Index [0 1000000000000]', Buffer.alloc(0), 6 * MiB));
  objects.set('mp4-nested', nestedMp4(200_000));
  objects.set('mp4-many-boxes', manyBoxesMp4(200_000));
  objects.set('wav-many-chunks', manyChunksWav(200_000));
  objects.set('dicom-no-pixel-data', dicomWithoutPixelData());
  for (const [name, body] of objects) writeFileSync(path.join(served.dir, name), body);
  server = spawn(process.execPath, ['-e', rangeServerScript, served.dir], { stdio: ['ignore', 'pipe', 'inherit'] });
  base = `http://127.0.0.1:${await new Promise<string>((resolve) => server.stdout!.once('data', (d: Buffer) => resolve(d.toString().trim())))}`;
  temp = await TempDir.create(tmp.dir);
  pool = new FetchPool({ threads: 1, allowedHosts: [] });
  expect(await pool.warm()).toEqual([]);
  rssBeforeKiB = process.resourceUsage().maxRSS;
}, 120_000);

afterAll(async () => {
  await pool?.close();
  server?.kill();
  served.remove();
  await temp?.close();
  tmp.remove();
  const growth = (process.resourceUsage().maxRSS - rssBeforeKiB) / 1024;
  console.info(`[planner bombs] peak RSS grew by ${growth.toFixed(0)} MiB over all bombs`);
});

describe('planner bombs, fetched by ranges in a fetch thread', () => {
  it.each([
    // [object, range requests at most: the first range, the plan's, the whole read]
    ['pdf-inflate-bomb', 4],
    ['pdf-many-objects', 4],
    ['pdf-empty-rows', 4],
    ['mp4-nested', 4],
    ['mp4-many-boxes', 256 + 2],
    ['wav-many-chunks', 256 + 2],
    ['dicom-no-pixel-data', 8],
  ])('%s: read whole, at most %i requests, this thread responsive, memory bounded', async (name, maxRequests) => {
    const body = objects.get(name)!;
    const delay = monitorEventLoopDelay({ resolution: 5 });
    delay.enable();
    const started = performance.now();
    const file = await pool.fetch({ source: 'signed', url: `${base}/${name}`, limits, rangedMinBytes: 0 }, temp);
    const ms = performance.now() - started;
    delay.disable();
    try {
      const maxDelayMs = delay.max / 1e6;
      const requests = await requestsFor(name);
      console.info(`[planner bombs] ${name}: ${ms.toFixed(0)} ms, ${requests} requests, main-thread loop delay p99 ${(delay.percentile(99) / 1e6).toFixed(1)} ms, max ${maxDelayMs.toFixed(1)} ms`);
      expect(file).toMatchObject({ sha256Scope: 'full', sizeBytes: body.length, sha256: createHash('sha256').update(body).digest('hex') });
      expect(requests).toBeLessThanOrEqual(maxRequests);
      expect(maxDelayMs).toBeLessThan(maxLoopDelayMs);
      expect((process.resourceUsage().maxRSS - rssBeforeKiB) / 1024).toBeLessThan(maxRssGrowthMiB);
      expect(pool.replaced).toBe(0);
    } finally {
      await temp.remove(file.path);
    }
  });
});
