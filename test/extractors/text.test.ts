/**
 * The text extractor beyond the fixtures: counting across chunk edges, encoding and format decisions,
 * and bounded memory on large generated files (made in a temp dir, never committed).
 */
import { createWriteStream, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { readTextInfo, textChunkBytes } from '../../src/extractors/text/text.js';
import { TextCounter } from '../../src/extractors/text/count.js';
import { detectEncoding } from '../../src/extractors/text/encoding.js';
import { textFormat } from '../../src/extractors/text/format.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'text-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function counted(pieces: string[]): { chars: number; lines: number } {
  const c = new TextCounter();
  for (const p of pieces) c.push(p);
  return { chars: c.charCount, lines: c.lineCount };
}

describe('TextCounter', () => {
  it.each([
    ['empty', [''], 0, 0],
    ['one unterminated line', ['abc'], 3, 1],
    ['LF', ['a\nb\n'], 4, 2],
    ['CRLF in one piece', ['a\r\nb\r\n'], 6, 2],
    ['CRLF split across pieces', ['a\r', '\nb'], 4, 2],
    ['lone CR then LF-led piece that is not its pair', ['a\r', 'b\n'], 4, 2],
    ['CR at the very end', ['a\r'], 2, 1],
    ['mixed ends', ['a\nb\r\nc\rd'], 8, 4],
    ['blank lines count when terminated', ['\n\n\n'], 3, 3],
    ['surrogate pair is one code point', ['😀\n'], 2, 1],
    ['pairs after other characters, in two pieces', ['é—😀a', 'b😀😀'], 7, 1],
  ] as const)('%s', (_name, pieces, chars, lines) => {
    expect(counted([...pieces])).toEqual({ chars, lines });
  });
});

describe('detectEncoding', () => {
  it('BOM first, and pure ASCII is utf-8', () => {
    expect(detectEncoding(Buffer.from('\ufeffabc'), true)).toEqual({ encoding: 'utf-8', bom: true, bomLength: 3 });
    expect(detectEncoding(Buffer.from('plain ascii'), true).encoding).toBe('utf-8');
  });
  it('a UTF-8 sequence cut by the sample end is still UTF-8 when the file goes on', () => {
    const cut = Buffer.from('abc é').subarray(0, 5); // 'abc ' + first byte of é
    expect(detectEncoding(cut, false).encoding).toBe('utf-8');
  });
  it('windows-1252 when C1 positions hold € and —', () => {
    const b = Buffer.from('Le prix est de 5 \x80 \x97 tr\xe8s raisonnable pour un caf\xe9 cr\xe8me.', 'latin1');
    expect(detectEncoding(b, true).encoding).toBe('windows-1252');
  });
});

describe('textFormat', () => {
  const fmt = (text: string, whole = true) =>
    textFormat({ prefix: text, lastNonSpace: text.trim().slice(-1), ...(whole ? { whole: text } : {}) }, whole);
  it.each([
    ['{"a":1}', 'json'],
    ['[1, 2, 3]\n', 'json'],
    ['{"a":1', 'plain'],
    ['42', 'plain'],
    ['<!doctype html><title>x</title>', 'html'],
    ['<!-- c -->\n<html lang="en"><body></body></html>', 'html'],
    ['a,b,c\n1,2,3\n4,5,6\n', 'csv'],
    ['a;b\n1;2\n', 'csv'],
    ['a\tb\n1\t2\n', 'csv'],
    ['a,b\n1,2,3\n', 'plain'],
    ['# Heading\ntext\n', 'markdown'],
    ['| a | b |\n|---|---|\n| 1 | 2 |\n', 'markdown'],
    ['- one\n- two\nsee [docs](http://x.y)\n', 'markdown'],
    ['#EXTM3U\n#EXTINF:10,\nseg.ts\n', 'plain'],
    ['#!/bin/sh\necho hi\n', 'plain'],
    ['2024-01-01 INFO started\n2024-01-01 INFO done\n', 'plain'],
  ] as const)('%j → %s', (text, expected) => {
    expect(fmt(text)).toBe(expected);
  });
  it('a large JSON candidate is judged by its ends without being parsed whole', () => {
    expect(textFormat({ prefix: '[{"a": 1},', lastNonSpace: ']' }, false)).toBe('json');
    expect(textFormat({ prefix: '[{"a": 1},', lastNonSpace: ',' }, false)).toBe('plain');
  });
});

describe('readTextInfo on generated files', () => {
  it('counts a CRLF and a UTF-8 character split across the read chunk edge', async () => {
    const file = path.join(dir, 'edge.txt');
    // CRLF straddles the first chunk edge; 'é' (2 bytes) straddles the second.
    const first = 'a'.repeat(textChunkBytes - 1) + '\r\n';
    const second = 'b'.repeat(textChunkBytes - first.length + textChunkBytes - 1) + 'é\n';
    writeFileSync(file, first + second);
    const info = await readTextInfo(file);
    expect(info).toEqual({ encoding: 'utf-8', bom: false, charCount: first.length + second.length, lineCount: 2, format: 'plain' });
  });

  it('skips a BOM and counts a 4-byte character across the read chunk edge', async () => {
    const file = path.join(dir, 'bom-edge.txt');
    // 3 bytes of BOM + (chunk - 5) bytes of 'a': the emoji's 4 bytes run from chunk - 2 to chunk + 2.
    const body = 'a'.repeat(textChunkBytes - 5) + '😀\n';
    writeFileSync(file, Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(body)]));
    const info = await readTextInfo(file);
    expect(info).toEqual({ encoding: 'utf-8', bom: true, charCount: textChunkBytes - 5 + 2, lineCount: 1, format: 'plain' });
  });

  it('streams a 100 MB single-line file with bounded memory', async () => {
    const file = path.join(dir, 'one-line.txt');
    const mb = 100;
    const block = Buffer.alloc(1024 * 1024, 'x');
    await new Promise<void>((resolve, reject) => {
      const ws = createWriteStream(file);
      ws.on('error', reject);
      let i = 0;
      const write = (): void => {
        while (i < mb) {
          i++;
          if (!ws.write(block)) return void ws.once('drain', write);
        }
        ws.end(resolve);
      };
      write();
    });
    const base = process.memoryUsage();
    let peak = 0;
    let pieces = 0;
    // The file is read with synchronous reads, so no timer could fire during the read: memory is sampled
    // each time a decoded piece reaches the counter instead, which is when the text in hand is largest.
    const push = TextCounter.prototype.push;
    const spy = vi.spyOn(TextCounter.prototype, 'push').mockImplementation(function (this: TextCounter, text: string) {
      const m = process.memoryUsage();
      peak = Math.max(peak, m.heapUsed - base.heapUsed + (m.arrayBuffers - base.arrayBuffers));
      pieces++;
      push.call(this, text);
    });
    const started = performance.now();
    const info = await readTextInfo(file).finally(() => spy.mockRestore());
    // One piece per 1 MiB chunk and the decoder's final flush: the samples cover the whole read.
    expect(pieces).toBe(mb + 1);
    expect(info).toEqual({ encoding: 'utf-8', bom: false, charCount: mb * 1024 * 1024, lineCount: 1, format: 'plain' });
    // A whole-file read would hold 100 MB of bytes plus 200 MB of UTF-16 string.
    expect(peak).toBeLessThan(48 * 1024 * 1024);
    expect(performance.now() - started).toBeLessThan(20_000);
  });
});
