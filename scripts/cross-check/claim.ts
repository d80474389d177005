/**
 * What one trusted tool says about one field of one file, in the contract's vocabulary (a dotted path
 * into the AssetResult, FFmpeg's codec names, clockwise rotation, seconds, points), and the tolerance
 * policy used to compare it with our value.
 */
import type { DataType } from '../../src/contract.js';

export type Value = string | number | boolean;

export interface Claim {
  tool: string;
  /** A path into our AssetResult: `video.durationSec`, `pdf.pages[2].width`, `status`, `error.code`. */
  field: string;
  value: Value;
  /** When set, decides agreement instead of the default policy (names that admit several spellings). */
  agrees?: (ours: Value) => boolean;
}

/**
 * Tolerance policy, by field name (the last segment of the path). Everything not listed must be equal.
 * - durations: 10 ms. Tools round to the millisecond (mediainfo, Matroska's time base) and some add the
 *   last packet's duration while others do not; anything larger is a real disagreement worth a line.
 * - fps: 0.1 % relative: mediainfo prints three decimals (29.970 for 30000/1001).
 * - bitRate: 1 % relative: every tool divides a byte count by a duration, the rounding of either moves it.
 * - PDF page sizes: 0.01 pt: pdfinfo prints `%g`, pdf.js keeps the box's floating-point numbers.
 */
export function withinTolerance(field: string, ours: number, theirs: number): boolean {
  const name = field.split('.').pop()?.replace(/\[\d+\]$/, '') ?? field;
  const diff = Math.abs(ours - theirs);
  switch (name) {
    case 'durationSec':
      return diff <= 0.01;
    case 'fps':
      return diff <= 0.001 * Math.max(Math.abs(theirs), 1);
    case 'bitRate':
      return diff <= 0.01 * Math.max(Math.abs(theirs), 1);
    case 'width':
    case 'height':
      return field.startsWith('pdf.') ? diff <= 0.01 : diff === 0;
    default:
      return diff === 0;
  }
}

export function agrees(claim: Claim, ours: Value): boolean {
  if (claim.agrees) return claim.agrees(ours);
  if (typeof ours === 'number' && typeof claim.value === 'number') return withinTolerance(claim.field, ours, claim.value);
  return ours === claim.value;
}

/** A number from a tool's text ("25.000", "1.071"); undefined for "", "N/A" and non-numbers. */
export function num(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
  if (typeof value !== 'string' || value.trim() === '') return undefined;
  const n = Number(value);
  return Number.isFinite(n) ? n : undefined;
}

/** "num/den" as ffprobe prints rates; "0/0" → undefined. */
export function ratio(value: unknown): number | undefined {
  if (typeof value !== 'string') return undefined;
  const [n, d] = value.split('/').map(Number);
  if (n === undefined || !Number.isFinite(n) || n <= 0) return undefined;
  const r = d === undefined ? n : n / d;
  return Number.isFinite(r) && r > 0 ? r : undefined;
}

/** A clockwise angle snapped to a quarter turn, as the contract states rotation. */
export function quarterTurn(clockwiseDegrees: number): number {
  return ((Math.round(clockwiseDegrees / 90) % 4) + 4) % 4 * 90;
}

/** Collects claims, skipping values a tool did not give. */
export class Claims {
  readonly list: Claim[] = [];
  constructor(private readonly tool: string) {}

  add(field: string, value: Value | undefined, agreesFn?: (ours: Value) => boolean): this {
    if (value === undefined || (typeof value === 'number' && !Number.isFinite(value))) return this;
    this.list.push({ tool: this.tool, field, value, ...(agreesFn ? { agrees: agreesFn } : {}) });
    return this;
  }
}

/** The data type a MIME type names, as the contract's detection would file it. */
export function dataTypeOfMime(mime: string | undefined): DataType | undefined {
  if (!mime) return undefined;
  if (mime === 'application/pdf') return 'pdf';
  if (mime === 'application/dicom') return 'dicom';
  const top = mime.split('/')[0];
  if (top === 'image' || top === 'video' || top === 'audio' || top === 'text') return top;
  return undefined;
}

/**
 * Whether our short container name is one of the names in ffprobe's demuxer list: "mov,mp4,m4a,3gp,
 * 3g2,mj2" reads MP4 and QuickTime alike and "matroska,webm" both of those, so either side of the
 * split we make from the major brand or DocType agrees with it.
 */
export function containerAgrees(formatName: string): (ours: Value) => boolean {
  const names = formatName.split(',');
  return (ours) => typeof ours === 'string' && names.includes(ours);
}
