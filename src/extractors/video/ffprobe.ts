/**
 * Runs ffprobe on one local file of untrusted bytes and returns its JSON, bounded in time and output (read
 * as it streams, packets.ts). Not through fluent-ffmpeg's `ffprobe()`: it has no timeout, cannot kill what
 * it started and parses the INI output itself (dropping the display matrix we read for the rotation);
 * here: a deadline with a kill, bounded buffers, JSON, and the argument list the security rules below need.
 *
 * Security: ffprobe is told it may use the `file` protocol only and only the demuxers we accept
 * (`acceptedDemuxers`). The protocol whitelist alone is not enough: an HLS playlist or an ffconcat file
 * that names a sibling *file* is still followed; with the demuxer whitelist the hls and concat demuxers
 * are refused before anything else is opened. The whitelist is inherited by nested demuxers.
 */
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';
import { bundledFfprobeEnv } from './ffprobe-gconv.js';
import { packetArgs, PacketListing, type StreamPackets } from './packets.js';
import { CorruptAssetError, ExtractTimeoutError, WorkerFaultError } from '../../errors.js';

/** One stream as ffprobe's JSON writer prints it (only the fields we read). */
export interface FfprobeStream {
  index: number;
  codec_type?: string;
  codec_name?: string;
  width?: number;
  height?: number;
  avg_frame_rate?: string;
  r_frame_rate?: string;
  duration?: string;
  nb_frames?: string;
  /** "1/90000": the unit of the packets' times. */
  time_base?: string;
  sample_rate?: string;
  /** The stream's own bit rate (bit/s), where its codec parameters state one. */
  bit_rate?: string;
  channels?: number;
  bits_per_sample?: number;
  bits_per_raw_sample?: string;
  disposition?: { attached_pic?: number };
  tags?: Record<string, string>;
  side_data_list?: { side_data_type?: string; rotation?: number }[];
}

export interface FfprobeFormat {
  format_name?: string;
  duration?: string;
  /** The file's size in bytes. */
  size?: string;
  bit_rate?: string;
  tags?: Record<string, string>;
}

export interface FfprobeResult {
  streams: FfprobeStream[];
  format: FfprobeFormat;
  /** Per stream index, when the packets were listed (packets.ts). */
  packets?: Map<number, StreamPackets>;
}

/**
 * FFmpeg demuxers ffprobe may use (`-format_whitelist`). A demuxer matches when any of its names is
 * listed ("mov" admits "mov,mp4,m4a,3gp,3g2,mj2"). Deliberately absent: hls, dash, concat, and every
 * other demuxer that opens further files or URLs named inside the input.
 */
export const acceptedDemuxers = [
  'mov', 'matroska', 'avi', 'mpegts', 'mpeg', 'flv', 'ogg', 'asf',
  'mp3', 'aac', 'flac', 'wav', 'aiff',
  // Raw Dolby Digital (Plus) and DTS elementary streams: formats music-metadata has no parser for.
  'ac3', 'eac3', 'dts',
] as const;

/** ffprobe prints a few KB per stream; more than this is a crafted file, not a video. */
export const ffprobeMaxStdoutBytes = 8 * 1024 * 1024;
/** Only the end of stderr is kept: the error that made ffprobe fail is its last line. */
const maxStderrBytes = 64 * 1024;
/** After a kill, how long to wait for the process to be reaped before giving up on it. */
const reapWaitMs = 2_000;

/**
 * The bundled binary: a static FFmpeg build shipped inside the registry package for this platform
 * (`@ffprobe-installer/linux-x64`, `linux-arm64`, `darwin-x64`, `darwin-arm64`, optional dependencies of
 * which npm installs the one that matches). Elsewhere FFPROBE_PATH must name one.
 */
export function defaultFfprobePath(): string {
  const pkg = `@ffprobe-installer/${process.platform}-${process.arch}`;
  try {
    return path.join(path.dirname(createRequire(import.meta.url).resolve(`${pkg}/package.json`)), 'ffprobe');
  } catch {
    throw new WorkerFaultError(`no bundled ffprobe for ${process.platform}-${process.arch} (${pkg}); set FFPROBE_PATH`);
  }
}

/** ffprobe's deadline: a little less than the extraction's, so that we kill it (EXTRACT_TIMEOUT) before its thread goes. */
export function ffprobeTimeoutMs(extractTimeoutMs: number): number {
  return Math.max(1, extractTimeoutMs - Math.min(1_000, Math.floor(extractTimeoutMs / 10)));
}

export interface FfprobeOptions {
  /** The ffprobe binary; the bundled one when absent (FFPROBE_PATH sets it). */
  ffprobePath?: string | undefined;
  timeoutMs: number;
  /** List every packet (reads the whole file): what the file holds, see packets.ts. */
  packets?: boolean;
}

/** The argument list for one probe of `path`: one process, format and streams (and packets), JSON. */
export function ffprobeArgs(path: string, packets = false): string[] {
  return [
    '-v', 'error',
    '-hide_banner',
    '-protocol_whitelist', 'file',
    '-format_whitelist', acceptedDemuxers.join(','),
    ...(packets ? packetArgs : ['-print_format', 'json']),
    '-show_format',
    '-show_streams',
    // The `file:` prefix keeps a name with a colon from being read as a protocol.
    `file:${path}`,
  ];
}

/**
 * Probes `path`. Throws ExtractTimeoutError when the deadline passes (the process group is killed
 * first), CorruptAssetError when ffprobe refuses the file (with its message, minus the temp path), and
 * WorkerFaultError when the binary cannot be started at all (ENOENT, EACCES: a wrong FFPROBE_PATH, an
 * image built without it): the deployment's fault, never a verdict on the asset, so it is retried.
 */
export function runFfprobe(path: string, options: FfprobeOptions): Promise<FfprobeResult> {
  const bin = options.ffprobePath ?? defaultFfprobePath();
  return new Promise((resolve, reject) => {
    // detached: ffprobe leads its own process group, so a kill also reaches anything a wrapper started.
    // An environment of one variable: the worker's credentials are none of ffprobe's business, and
    // GCONV_PATH keeps a static build from loading the host's iconv modules (see ffprobe-gconv.ts).
    const child = spawn(bin, ffprobeArgs(path, options.packets), {
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
      env: bundledFfprobeEnv(),
    });
    // Every output goes through the listing's reader: without packets it only keeps the lines, bounded.
    const listing = new PacketListing(ffprobeMaxStdoutBytes);
    let stderr = '';
    let failure: Error | undefined;
    let settled = false;

    const kill = (why: Error): void => {
      if (failure) return;
      failure = why;
      try {
        if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
      } catch {
        child.kill('SIGKILL');
      }
      // Normally 'close' settles; if the process cannot be reaped, do not hang the job on it.
      setTimeout(() => finish(), reapWaitMs).unref();
    };
    const finish = (result?: FfprobeResult, err?: Error): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (failure ?? err) reject(failure ?? err);
      else resolve(result as FfprobeResult);
    };

    const timer = setTimeout(
      () => kill(new ExtractTimeoutError(`ffprobe did not finish within ${options.timeoutMs} ms`)),
      options.timeoutMs,
    );

    child.stdout.on('data', (chunk: Buffer) => {
      try {
        listing.feed(chunk.toString('latin1'));
      } catch (err) {
        kill(err as Error);
      }
    });
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => {
      stderr = (stderr + chunk).slice(-maxStderrBytes);
    });
    child.on('error', (err) => {
      finish(undefined, new WorkerFaultError(`cannot run ffprobe (${bin}): ${err.message}; check FFPROBE_PATH`, { cause: err }));
    });
    child.on('close', (code, signal) => {
      if (failure) return finish();
      if (code !== 0) {
        const how = signal ? `killed by ${signal}` : `exit code ${code}`;
        return finish(undefined, new CorruptAssetError(`ffprobe cannot read the file (${how}): ${cleanStderr(stderr, path)}`));
      }
      try {
        const parsed = JSON.parse(Buffer.from(listing.text(), 'latin1').toString('utf8')) as Partial<FfprobeResult>;
        finish({ streams: parsed.streams ?? [], format: parsed.format ?? {}, ...(options.packets ? { packets: listing.streams } : {}) });
      } catch (err) {
        finish(undefined, new CorruptAssetError('ffprobe printed no valid JSON', { cause: err }));
      }
    });
  });
}

/**
 * ffprobe's complaint without the temp file's path or heap addresses, stable and silent about the worker's
 * file system: "[mov,mp4,...] moov atom not found; <input>: Invalid data found when processing input".
 */
export function cleanStderr(stderr: string, path: string): string {
  const lines = stderr
    .split(/\r?\n/)
    .map((l) => l.split(`file:${path}`).join('<input>').split(path).join('<input>'))
    .map((l) => l.replace(/ @ 0x[0-9a-f]+\]/gi, ']').trim())
    .filter(Boolean);
  const text = lines.slice(-3).join('; ');
  return text.length > 500 ? `${text.slice(0, 500)}...` : text || 'no message';
}
