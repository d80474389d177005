/**
 * Facts about a file that the rules of known.ts test: its first bytes, and the packets ffprobe's demuxer
 * lists (where they end, how many are video, how many audio bytes they hold).
 */
import { open } from 'node:fs/promises';
import type { AssetResult } from '../../src/contract.js';
import type { Claim, Value } from './claim.js';
import type { ExifTags } from './exiftool.js';
import { run } from './run.js';

/** One field on which a tool and we disagree, with what the rules may test. */
export interface Disagreement {
  file: string;
  field: string;
  tool: string;
  ours: Value;
  theirs: Value;
  result: AssetResult;
  /** exiftool's tags for the file (to reproduce its estimates). */
  exif: ExifTags | undefined;
  /** Every claim made about the file, by every tool. */
  claims: Claim[];
  /** Resolved tool paths. */
  tools: Record<string, string>;
}

/** The file's first `bytes` bytes. */
export async function head(file: string, bytes: number): Promise<Buffer> {
  const fd = await open(file, 'r');
  try {
    const buf = Buffer.alloc(bytes);
    const { bytesRead } = await fd.read(buf, 0, bytes, 0);
    return buf.subarray(0, bytesRead);
  } finally {
    await fd.close();
  }
}

/** A DICOM Part 10 file: "DICM" after the 128-byte preamble. */
export const isPart10 = (b: Buffer): boolean => b.toString('latin1', 128, 132) === 'DICM';

export interface Packets {
  /** Where the last packet ends (seconds); a video packet without a duration lasts one frame (1 / our fps). */
  end: number;
  /** The longest packet (seconds); how many are video; the audio packets' bytes. */
  longest: number;
  video: number;
  audioBytes: number;
  /** The byte just past the last video packet. */
  lastVideoByte: number;
}

/** What the file's packets hold, as ffprobe's demuxer lists them. */
export async function packets(d: Disagreement): Promise<Packets> {
  const out = await run(d.tools.ffprobe ?? 'ffprobe', [
    '-v', 'error', '-show_entries', 'packet=codec_type,pts_time,duration_time,pos,size', '-of', 'csv=p=0', `file:${d.file}`,
  ]);
  const frame = d.result.video?.fps ? 1 / d.result.video.fps : 0;
  const p: Packets = { end: 0, longest: 0, video: 0, audioBytes: 0, lastVideoByte: 0 };
  for (const line of out.stdout.split('\n')) {
    const [type, pts, duration, size, pos] = line.split(',');
    const start = Number(pts);
    const length = Number(duration);
    if (type === 'video') {
      p.video++;
      p.lastVideoByte = Number(pos) + Number(size);
    }
    if (type === 'audio') p.audioBytes += Number(size) || 0;
    if (!Number.isFinite(start)) continue;
    const listed = Number.isFinite(length) ? length : 0;
    p.end = Math.max(p.end, start + (Number.isFinite(length) ? length : type === 'video' ? frame : 0));
    p.longest = Math.max(p.longest, listed);
  }
  return p;
}
