/**
 * The box structure shared by HEIF/AVIF (ISO/IEC 14496-12 §4.2) and JPEG 2000 (ISO/IEC 15444-1 §I.4):
 * size (4 bytes), type (4), content; size 1 means a 64-bit size follows the type, size 0 runs to the end.
 * libvips reads neither format's item properties nor JP2's header boxes, so the readers beside this walk them.
 */
/** A box's type and content range [start, end) in the buffer walked. */
export type Box = { type: string; start: number; end: number };

/** The boxes in b[start, end), in order; the walk stops at a box that runs past `end`. */
export function* boxes(b: Buffer, start = 0, end = b.length): Generator<Box> {
  let at = start;
  while (at + 8 <= end) {
    const size32 = b.readUInt32BE(at);
    const header = size32 === 1 ? 16 : 8;
    if (at + header > end) return;
    const size = size32 === 1 ? Number(b.readBigUInt64BE(at + 8)) : size32 === 0 ? end - at : size32;
    if (size < header || at + size > end) return;
    yield { type: b.toString('latin1', at + 4, at + 8), start: at + header, end: at + size };
    at += size;
  }
}

/** The first box of `type` in b[start, end). */
export function findBox(b: Buffer, type: string, start = 0, end = b.length): Box | undefined {
  for (const box of boxes(b, start, end)) if (box.type === type) return box;
  return undefined;
}
