/**
 * A HEIF's stored size and rotation. libheif applies the primary item's transformative properties (irot,
 * ISO/IEC 23008-12 §6.5.10) before libvips sees the image, and libvips then reports the turned size with
 * orientation 1. A phone's HEIC stores the picture as the sensor saw it plus irot; exiftool and the
 * contract report the stored size (the ispe property, §6.5.3) and the turn as an EXIF orientation.
 *
 * Only a rotation is mapped; a mirror (imir) as well is left to libheif's reading (undefined here).
 */

/** How much of the file the meta box is looked for in; phones' meta boxes are a few KB. */
export const heifMetaMaxBytes = 256 * 1024;

interface Box {
  type: string;
  start: number;
  end: number;
}

function* boxes(b: Buffer, start: number, end: number): Generator<Box> {
  let at = start;
  while (at + 8 <= end) {
    const size = b.readUInt32BE(at);
    if (size < 8 || at + size > end) return;
    yield { type: b.toString('latin1', at + 4, at + 8), start: at + 8, end: at + size };
    at += size;
  }
}

const child = (b: Buffer, parent: Box, type: string, skip = 0) => [...boxes(b, parent.start + skip, parent.end)].find((x) => x.type === type);

/** Property indices (1-based into ipco) associated with `item` in an ipma box (§8.11.14). */
function associations(b: Buffer, ipma: Box, item: number): number[] {
  const version = b[ipma.start]!;
  const wideIndex = (b.readUInt32BE(ipma.start) & 1) === 1;
  let at = ipma.start + 4;
  const entries = b.readUInt32BE(at);
  at += 4;
  for (let e = 0; e < entries && at < ipma.end; e++) {
    const id = version < 1 ? b.readUInt16BE(at) : b.readUInt32BE(at);
    at += version < 1 ? 2 : 4;
    const count = b[at++]!;
    const out: number[] = [];
    for (let i = 0; i < count && at < ipma.end; i++) {
      out.push(wideIndex ? b.readUInt16BE(at) & 0x7fff : b[at]! & 0x7f);
      at += wideIndex ? 2 : 1;
    }
    if (id === item) return out;
  }
  return [];
}

/** EXIF orientation for an irot angle in anti-clockwise quarter turns: 90° ccw is 270° cw (8). */
const orientationOfTurns = [1, 8, 3, 6] as const;

/** The primary item's stored size and EXIF orientation when it carries an irot (and no imir), else undefined. */
export function heifRotation(head: Buffer): { width: number; height: number; orientation: number } | undefined {
  const meta = [...boxes(head, 0, head.length)].find((x) => x.type === 'meta');
  if (!meta) return undefined;
  const inner: Box = { type: 'meta', start: meta.start + 4, end: meta.end }; // FullBox: version and flags
  const pitm = child(head, inner, 'pitm');
  const iprp = child(head, inner, 'iprp');
  if (!pitm || !iprp || pitm.end - pitm.start < 6) return undefined;
  const primary = head[pitm.start] === 0 ? head.readUInt16BE(pitm.start + 4) : head.readUInt32BE(pitm.start + 4);
  const ipco = child(head, iprp, 'ipco');
  const ipma = child(head, iprp, 'ipma');
  if (!ipco || !ipma) return undefined;
  const props = [...boxes(head, ipco.start, ipco.end)];
  const mine = associations(head, ipma, primary).map((i) => props[i - 1]).filter((p): p is Box => p !== undefined);
  const irot = mine.find((p) => p.type === 'irot');
  const ispe = mine.find((p) => p.type === 'ispe');
  if (!irot || !ispe || mine.some((p) => p.type === 'imir') || ispe.end - ispe.start < 12) return undefined;
  const width = head.readUInt32BE(ispe.start + 4);
  const height = head.readUInt32BE(ispe.start + 8);
  const orientation = orientationOfTurns[head[irot.start]! & 3]!;
  return width > 0 && height > 0 ? { width, height, orientation } : undefined;
}
