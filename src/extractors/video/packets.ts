/**
 * What a file holds, measured from ffprobe's packet listing rather than taken from its header: a header
 * (an MP3's Xing frame count, ASF's play duration, a WAV's data size, an MP4 index whose media data was cut)
 * states what the file was meant to hold, the packets what it holds.
 *
 * The listing (`-show_entries packet=...`) comes first in ffprobe's JSON, one line a packet with
 * `json=compact=1`, before the streams and the format. It is read as it streams: each packet line updates
 * its stream's totals and is dropped, every other line is kept for JSON.parse. Memory stays bounded
 * whatever the number of packets.
 */
import { CorruptAssetError } from '../../errors.js';
import type { FfprobeResult, FfprobeStream } from './ffprobe.js';

/** ffprobe's arguments for the listing: the packet fields read below, one packet a line. */
export const packetArgs = ['-show_entries', 'packet=stream_index,pts,dts,duration,size', '-print_format', 'json=compact=1'];

/** One stream's packets: how many, their bytes, and the time they span in the stream's time base. */
export interface StreamPackets {
  count: number;
  bytes: number;
  start: number;
  end: number;
}

/** Packets read at most: about 118 h of 48 kHz AAC, 52 h of 60 fps video with such audio. */
export const maxPackets = 20_000_000;

/** A packet line: its fields in ffprobe's order, each absent when unknown. */
const packetLine = /^\s*\{ "stream_index": (\d+)(?:, "pts": (-?\d+|"N\/A"))?(?:, "dts": (-?\d+|"N\/A"))?(?:, "duration": (\d+|"N\/A"))?(?:, "size": "(\d+)")?/;

/** Reads ffprobe's stdout chunk by chunk; `feed` throws CorruptAssetError past the bounds. */
export class PacketListing {
  readonly streams = new Map<number, StreamPackets>();
  private packets = 0;
  private partial = '';
  private inListing = false;
  private kept: string[] = [];
  private keptChars = 0;

  constructor(private readonly maxKeptChars: number) {}

  feed(chunk: string): void {
    const lines = (this.partial + chunk).split('\n');
    this.partial = lines.pop() ?? '';
    if (this.partial.length > this.maxKeptChars) throw new CorruptAssetError(`ffprobe printed a line over ${this.maxKeptChars} characters`);
    for (const line of lines) this.line(line);
  }

  /** The JSON without the listing. */
  text(): string {
    this.line(this.partial);
    return this.kept.join('\n');
  }

  private line(line: string): void {
    if (line === '    "packets": [') this.inListing = true;
    else if (this.inListing && /^ {4}\],?$/.test(line)) this.inListing = false;
    else if (!this.inListing) {
      this.keptChars += line.length + 1;
      if (this.keptChars > this.maxKeptChars) throw new CorruptAssetError(`ffprobe output exceeds ${this.maxKeptChars} characters`);
      this.kept.push(line);
    } else {
      const m = packetLine.exec(line);
      if (m) this.packet(m);
    }
  }

  private packet([, index, pts, dts, duration, size]: RegExpExecArray): void {
    if (++this.packets > maxPackets) throw new CorruptAssetError(`more than ${maxPackets} packets`);
    const s = this.streams.get(Number(index)) ?? { count: 0, bytes: 0, start: Infinity, end: -Infinity };
    this.streams.set(Number(index), s);
    s.count++;
    s.bytes += Number(size ?? 0);
    // A packet without a time (pts, else dts) is counted, not timed.
    const time = [pts, dts].map(Number).find(Number.isFinite);
    if (time === undefined) return;
    s.start = Math.min(s.start, time);
    s.end = Math.max(s.end, time + (Number(duration) || 0));
  }
}

/** A stream's time base ("1/90000") as seconds per tick. */
function tick(stream: FfprobeStream): number | undefined {
  const [n, d] = (stream.time_base ?? '').split('/').map(Number);
  return n && d ? n / d : undefined;
}

/**
 * Seconds from the first packet to the end of the last, over the given streams, as a decoder plays them:
 * packets before 0 (AAC priming, Opus pre-skip, which decoders drop) do not count; a timeline that starts
 * later (MPEG-TS) counts from its start. Undefined when no packet of those streams has a time.
 */
export function measuredSec(probe: FfprobeResult, streams: FfprobeStream[]): number | undefined {
  let start = Infinity;
  let end = -Infinity;
  for (const s of streams) {
    const p = probe.packets?.get(s.index);
    const t = tick(s);
    if (!p || t === undefined || p.end === -Infinity) continue;
    start = Math.min(start, p.start * t);
    end = Math.max(end, p.end * t);
  }
  // Rounded to the nanosecond: ticks times a time base leave float noise (0.9999999999999998).
  return end > -Infinity ? Math.round(Math.max(0, end - Math.max(0, start)) * 1e9) / 1e9 : undefined;
}
