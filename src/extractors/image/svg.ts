/**
 * SVG size from its root element's attributes, read as plain text: the file is never handed to librsvg
 * (sharp) or an XML parser, so no external entity, stylesheet or image it names is resolved or fetched, and
 * an entity-expansion bomb in its DOCTYPE is just bytes we skip. Not image-size's SVG reader: it splits
 * viewBox on single spaces only (SVG 1.1 §7.7 allows commas and any whitespace) and converts pc as 1/9 px
 * instead of 16 px. Lengths follow CSS Values 4 §6.2 (1in = 96px = 2.54cm = 72pt = 6pc, 1Q = 0.25mm);
 * width and height default to auto, and then the viewBox gives the aspect and size (SVG 2 §8.2).
 */
import type { ImageInfo } from '../../contract.js';
import { CorruptAssetError } from '../../errors.js';
import { readAtSync, withSourceSync } from '../read-sync.js';

/** The root element comes after the prolog; a DOCTYPE's internal subset may be long, not this long. */
export const svgHeadBytes = 256 * 1024;

/** Size when neither width/height nor viewBox give one: the CSS default object size (CSS Images 3 §5.2.4). */
const defaultSize = { width: 300, height: 150 };

/** px per unit. em and ex have no absolute value: the initial font size (16px) and half of it are assumed. */
const pxPerUnit: Record<string, number> = {
  '': 1, px: 1, in: 96, cm: 96 / 2.54, mm: 96 / 25.4, q: 96 / 101.6, pt: 96 / 72, pc: 16, em: 16, ex: 8,
};

/** A length in px, or null for a percentage, `auto` or anything unparseable (then the viewBox decides). */
export function svgLength(value: string | undefined): number | null {
  if (value === undefined) return null;
  const m = /^\s*([+]?(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?)\s*([a-z]*)\s*$/i.exec(value);
  if (!m) return null;
  const factor = pxPerUnit[m[2]!.toLowerCase()];
  const px = factor === undefined ? NaN : Number(m[1]) * factor;
  return Number.isFinite(px) && px > 0 ? px : null;
}

function parseViewBox(value: string | undefined): { width: number; height: number } | null {
  if (value === undefined) return null;
  const parts = value.trim().split(/[\s,]+/).map(Number);
  if (parts.length !== 4 || parts.some((n) => !Number.isFinite(n))) return null;
  const [, , width, height] = parts as [number, number, number, number];
  return width > 0 && height > 0 ? { width, height } : null;
}

/** The root element's start tag: the first `<svg` of the text, up to its first '>' not in a quoted value. */
function rootTag(text: string): string | null {
  const start = text.search(/<svg[\s>/]/i);
  if (start < 0) return null;
  let quote = '';
  for (let i = start; i < text.length; i++) {
    const c = text[i]!;
    if (quote) {
      if (c === quote) quote = '';
    } else if (c === '"' || c === "'") quote = c;
    else if (c === '>') return text.slice(start, i + 1);
  }
  return null;
}

function attributes(tag: string): Map<string, string> {
  return new Map([...tag.matchAll(/\s([A-Za-z_:][-\w.:]*)\s*=\s*(?:"([^"]*)"|'([^']*)')/g)].map((m) => [m[1]!, m[2] ?? m[3] ?? '']));
}

/** Width and height in px from the root element's attributes, rounded to whole pixels (at least 1). */
export function svgSize(text: string): { width: number; height: number } {
  // Comments and the DOCTYPE's internal subset may hold "<svg" themselves: drop them first.
  const withoutProlog = text
    .replace(/<!--[\s\S]*?-->/g, '')
    .replace(/<!DOCTYPE[^>[]*(?:\[[\s\S]*?\])?\s*>/i, '');
  const tag = rootTag(withoutProlog);
  if (!tag) throw new CorruptAssetError('SVG has no <svg> root element in its first bytes');
  const attrs = attributes(tag);
  const w = svgLength(attrs.get('width'));
  const h = svgLength(attrs.get('height'));
  const box = parseViewBox(attrs.get('viewBox'));
  let size: { width: number; height: number };
  if (w !== null && h !== null) size = { width: w, height: h };
  else if (box && w !== null) size = { width: w, height: (w * box.height) / box.width };
  else if (box && h !== null) size = { width: (h * box.width) / box.height, height: h };
  else if (box) size = box;
  else size = defaultSize;
  return { width: Math.max(1, Math.round(size.width)), height: Math.max(1, Math.round(size.height)) };
}

export async function readSvg(path: string, bytes?: Buffer): Promise<ImageInfo> {
  const text = withSourceSync(path, bytes, (fd, size) => {
    const b = readAtSync(fd, 0, Math.min(size, svgHeadBytes));
    // Detection accepts SVG in UTF-8, or UTF-16 with a BOM; TextDecoder skips the BOM.
    const encoding = b[0] === 0xff && b[1] === 0xfe ? 'utf-16le' : b[0] === 0xfe && b[1] === 0xff ? 'utf-16be' : 'utf-8';
    return new TextDecoder(encoding).decode(b);
  });
  const { width, height } = svgSize(text);
  // Vector graphics: shown on a transparent canvas in sRGB (SVG 2 §13.1), no sample depth of its own.
  return {
    format: 'svg', width, height, orientation: 1, displayWidth: width, displayHeight: height,
    frames: 1, hasAlpha: true, channels: 4, colorSpace: 'srgb',
  };
}
