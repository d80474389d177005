/**
 * What a file holds, measured from ffprobe's packet listing rather than taken from its header: a header
 * (an MP3's Xing frame count, ASF's play duration, a WAV's data size, an MP4 index whose media data was cut)
 * states what the file was meant to hold, the packets what it holds.
 *
 * The listing (`-show_entries packet=...`) comes first in ffprobe's JSON, one line a packet with
 * `json=compact=1`. It is read as it streams: each packet line updates its stream's totals and is dropped,
 * every other line is kept for JSON.parse. Memory stays bounded whatever the number of packets.
 */
import { CorruptAssetError } from '../../errors.js';

/** ffprobe's arguments for the listing: the packet fields read below, one packet a line. */
export const packetArgs = ['-show_entries', 'packet=stream_index,pts,dts,duration,size', '-print_format', 'json=compact=1'];

/** One stream's packets: how many, their bytes, and the time they span in the stream's time base. */
export interface StreamPackets {
  count: number;
  bytes: number;
  start: number;
  end: number;
  /** The packet that ends last has no duration (ASF video): ffprobe-map.ts adds one frame period. */
  untimedEnd: boolean;
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
    const s = this.streams.get(Number(index)) ?? { count: 0, bytes: 0, start: Infinity, end: -Infinity, untimedEnd: false };
    this.streams.set(Number(index), s);
    s.count++;
    s.bytes += Number(size ?? 0);
    // A packet without a time (pts, else dts) is counted, not timed.
    const time = [pts, dts].map(Number).find(Number.isFinite);
    if (time === undefined) return;
    s.start = Math.min(s.start, time);
    // A duration of 2^31 ticks or more is a negative one wrapped (FFmpeg's last Vorbis packet in Ogg): none.
    const d = Number(duration) < 2 ** 31 ? Number(duration) || 0 : 0;
    if (time + d > s.end || (d === 0 && time === s.end)) s.untimedEnd = d === 0;
    s.end = Math.max(s.end, time + d);
  }
}
