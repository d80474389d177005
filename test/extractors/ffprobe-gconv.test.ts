/**
 * The bundled static ffprobe and the host's iconv modules: MPEG-TS files name their services in a
 * character set, and converting one made the static ffprobe load the host's glibc modules and die with
 * SIGSEGV. Both files here are made by ffmpeg (64×48, 25 fps, 1 s of H.264); the second has its service
 * name's first byte changed to 0x0B, which selects ISO-8859-15 (ETSI EN 300 468 annex A), a module the
 * host lists even when GCONV_PATH is set.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { disabledGconvModules, disabledModule, hostGconvModules } from '../../src/extractors/video/ffprobe-gconv.js';
import { probeFile } from '../../src/probe.js';
import { testExtractConfig } from '../helpers/fixtures.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'gconv-test-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** CRC-32/MPEG-2, the checksum of PSI sections. */
function crc32Mpeg(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (const b of bytes) {
    crc ^= b << 24;
    for (let i = 0; i < 8; i++) crc = crc & 0x80000000 ? ((crc << 1) ^ 0x04c11db7) >>> 0 : (crc << 1) >>> 0;
  }
  return crc >>> 0;
}

/** Rewrites every SDT section (PID 0x11) so that the service name starts with `selector`. */
function setServiceNameCharset(file: string, selector: number): number {
  const ts = readFileSync(file);
  let patched = 0;
  for (let off = 0; off + 188 <= ts.length; off += 188) {
    const pid = ((ts[off + 1]! & 0x1f) << 8) | ts[off + 2]!;
    if (pid !== 0x11) continue;
    const start = off + 5 + ts[off + 4]!;
    const end = start + 3 + (((ts[start + 1]! & 0x0f) << 8) | ts[start + 2]!);
    const name = ts.indexOf('Service01', start);
    if (name < 0 || name >= end) continue;
    ts[name] = selector;
    ts.writeUInt32BE(crc32Mpeg(ts.subarray(start, end - 4)), end - 4);
    patched++;
  }
  writeFileSync(file, ts);
  return patched;
}

function makeTs(name: string): string {
  const file = path.join(tmp, name);
  execFileSync('ffmpeg', ['-v', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc=size=64x48:rate=25', '-t', '1', '-c:v', 'libx264', '-pix_fmt', 'yuv420p', file]);
  return file;
}

const expectedVideo = { container: 'mpegts', width: 64, height: 48, fps: 25, frameCount: 25, videoCodec: 'h264' };

describe('MPEG-TS through the bundled ffprobe', () => {
  it('a transport stream as ffmpeg writes it (service names in the default ISO 6937)', async () => {
    const result = await probeFile(makeTs('default.ts'), testExtractConfig());
    expect(result.error).toBeUndefined();
    expect(result.video).toMatchObject(expectedVideo);
  });

  it('a service name in ISO-8859-15', async () => {
    const file = makeTs('latin9.ts');
    expect(setServiceNameCharset(file, 0x0b)).toBeGreaterThan(0);
    const result = await probeFile(file, testExtractConfig());
    expect(result.error).toBeUndefined();
    expect(result.video).toMatchObject(expectedVideo);
  });
});

describe('the overriding module list', () => {
  it('names every conversion module the host lists, each pointing at a module that does not exist', () => {
    const dir = path.join(tmp, 'host');
    execFileSync('mkdir', ['-p', path.join(dir, 'gconv-modules.d')]);
    writeFileSync(path.join(dir, 'gconv-modules'), 'alias LATIN9// ISO-8859-15//\nmodule ISO-8859-15// INTERNAL ISO8859-15 1\n# module X// Y// Z 1\n');
    writeFileSync(path.join(dir, 'gconv-modules.d', 'extra.conf'), 'module\tINTERNAL\tBIG5//\tBIG5\t2\n');
    const text = disabledGconvModules(hostGconvModules(dir));
    expect(text).toBe(`module\tISO-8859-15//\tINTERNAL\t${disabledModule}\t1\nmodule\tINTERNAL\tBIG5//\t${disabledModule}\t2\n`);
  });
});
