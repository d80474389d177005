/**
 * PDF (ISO 32000-1 §7.5): the cross-reference sections are followed from `startxref` at the end (tables
 * and streams, /Prev and /XRefStm chains), and every object they list is read except the data of large
 * streams (images, fonts, page contents), which the page tree never needs. Each object is checked to
 * start where the table says ("N G obj"): a file whose table is off makes pdf.js rebuild it by scanning
 * the whole file, so it is read whole. Encrypted files are read whole too.
 */
import { inflateSync } from 'node:zlib';
import { unsureOnFault, type RangeReader, type Span } from '../range-plan.js';

/** Objects up to this size are read whole; larger ones are read whole only when they are not a stream. */
const smallObjectBytes = 64 * 1024;
/** Of a large object, the head (its dictionary: is it a stream?) and the tail (`endstream endobj`, checked by pdf.js). */
const objectHeadBytes = 4096;
const objectTailBytes = 256;
/** Where `startxref` is looked for (pdf.js looks back 1 KiB at a time from the end). */
const tailBytes = 64 * 1024;
/** Missing parts closer than this are fetched in one range. */
const gapBytes = 64 * 1024;
/**
 * A cross-reference stream larger than this, compressed or inflated, is not read here (the file is read whole):
 * 16 MiB is over two million rows of /W [1 4 2]. Without the cap, 1 MB of deflated zeros inflated to 1 GiB.
 */
export const maxXrefStreamBytes = 16 * 1024 * 1024;
/** Objects listed in all sections together, at most; a larger table is read whole (bounds the offset map). */
export const maxPdfObjects = 1_000_000;
/** Bytes of one field of an xref stream row (/W), at most: offsets past 2^53 are not offsets. */
const maxFieldBytes = 6;

interface Xref {
  offsets: Map<number, number>; // object number → offset, for objects stored uncompressed (type 1)
  objectStreams: Set<number>; // object streams holding compressed objects (type 2): read whole
  sections: number[]; // where each cross-reference section starts (a boundary of the objects' extents)
  entries: number; // entries of all sections so far (free ones too), against maxPdfObjects
}

/** The first dictionary `<< ... >>` in `text`, by nesting; undefined if unclosed. */
function dictAt(text: string): { dict: string; end: number } | undefined {
  const start = text.indexOf('<<');
  if (start < 0) return undefined;
  let depth = 0;
  for (let i = start; i < text.length - 1; i++) {
    if (text[i] === '<' && text[i + 1] === '<') { depth++; i++; }
    else if (text[i] === '>' && text[i + 1] === '>') {
      depth--;
      i++;
      if (depth === 0) return { dict: text.slice(start, i + 1), end: i + 1 };
    }
  }
  return undefined;
}

const intIn = (dict: string, key: string): number | undefined => {
  const m = new RegExp(`/${key}\\s+(\\d+)(?![\\d\\s]*\\sR)`).exec(dict);
  return m ? Number(m[1]) : undefined;
};

/** A classic table (§7.5.4): subsections of 20-byte entries, then the trailer. */
async function readTable(src: RangeReader, at: number, xref: Xref): Promise<string | undefined> {
  let pos = at + (await src.read(at, 64)).toString('latin1').indexOf('xref') + 4;
  for (;;) {
    const line = (await src.read(pos, 64)).toString('latin1');
    const sub = /^\s*(\d+)\s+(\d+)[ \t]*\r?\n?/.exec(line);
    if (!sub) {
      if (!/^\s*trailer/.test(line)) return undefined;
      const text = (await src.read(pos, 16 * 1024)).toString('latin1');
      return dictAt(text)?.dict;
    }
    const first = Number(sub[1]);
    const count = Number(sub[2]);
    if (xref.entries + count > maxPdfObjects) return undefined;
    xref.entries += count;
    pos += sub[0].length;
    const entries = (await src.read(pos, count * 20)).toString('latin1');
    for (let k = 0; k < count; k++) {
      const e = /^(\d{10}) (\d{5}) ([nf])[\r\n ]{2}$/.exec(entries.slice(k * 20, k * 20 + 20));
      if (!e) return undefined;
      if (e[3] === 'n' && Number(e[1]) > 0) xref.offsets.set(first + k, Number(e[1]));
    }
    pos += count * 20;
  }
}

/** Undoes the PNG predictors of an xref stream (§7.4.4.4), rows of `columns` bytes. */
function unpredict(data: Buffer, columns: number): Buffer | undefined {
  const rows = data.length / (columns + 1);
  if (!Number.isInteger(rows)) return undefined;
  const out = Buffer.alloc(rows * columns);
  for (let r = 0; r < rows; r++) {
    const filter = data[r * (columns + 1)];
    for (let c = 0; c < columns; c++) {
      const raw = data[r * (columns + 1) + 1 + c]!;
      const up = r > 0 ? out[(r - 1) * columns + c]! : 0;
      const left = c > 0 ? out[r * columns + c - 1]! : 0;
      if (filter === 0) out[r * columns + c] = raw;
      else if (filter === 1) out[r * columns + c] = (raw + left) & 0xff;
      else if (filter === 2) out[r * columns + c] = (raw + up) & 0xff;
      else return undefined;
    }
  }
  return out;
}

/** A cross-reference stream (§7.5.8); returns its dictionary, which is also the trailer. */
async function readXrefStream(src: RangeReader, at: number, xref: Xref): Promise<string | undefined> {
  const text = (await src.read(at, 16 * 1024)).toString('latin1');
  const found = dictAt(text);
  if (!found || !/\/Type\s*\/XRef/.test(found.dict)) return undefined;
  const { dict } = found;
  const length = intIn(dict, 'Length');
  const w = /\/W\s*\[\s*(\d+)\s+(\d+)\s+(\d+)\s*\]/.exec(dict)?.slice(1).map(Number);
  const keyword = /^\s*stream(\r\n|\n)/.exec(text.slice(found.end));
  if (length === undefined || length > maxXrefStreamBytes || !w || !keyword) return undefined;
  // A row must hold an offset (§7.5.8.3): rows of no bytes would be counted forever without reading any.
  if (w[1]! === 0 || w.some((bytes) => bytes > maxFieldBytes)) return undefined;
  let data = (await src.read(at + found.end + keyword[0].length, length + 32)).subarray(0, length);
  const filter = /\/Filter\s*(\[\s*)?\/(\w+)/.exec(dict)?.[2];
  if (filter !== undefined && filter !== 'FlateDecode') return undefined;
  try {
    if (filter) data = inflateSync(data, { maxOutputLength: maxXrefStreamBytes });
  } catch {
    return undefined; // not zlib data, or past the cap
  }
  const predictor = intIn(dict, 'Predictor') ?? 1;
  const table = predictor >= 10 ? unpredict(data, intIn(dict, 'Columns') ?? 1) : predictor === 1 ? data : undefined;
  if (!table) return undefined;
  const rowBytes = w[0]! + w[1]! + w[2]!;
  const size = intIn(dict, 'Size') ?? 0;
  const index = /\/Index\s*\[([\d\s]+)\]/.exec(dict)?.[1]?.trim().split(/\s+/).map(Number) ?? [0, size];
  // Rows past the stream's end make the section unsure below; counting them stops at the data's rows.
  const rows = Math.floor(table.length / rowBytes);
  if (xref.entries + rows > maxPdfObjects) return undefined;
  xref.entries += rows;
  const field = (row: number, from: number, bytes: number) => {
    let v = 0;
    for (let i = 0; i < bytes; i++) v = v * 256 + table[row * rowBytes + from + i]!;
    return v;
  };
  let row = 0;
  for (let i = 0; i + 1 < index.length; i += 2) {
    for (let k = 0; k < index[i + 1]!; k++, row++) {
      if ((row + 1) * rowBytes > table.length) return undefined;
      const type = w[0] ? field(row, 0, w[0]) : 1;
      const f2 = field(row, w[0]!, w[1]!);
      if (type === 1 && f2 > 0) xref.offsets.set(index[i]! + k, f2);
      if (type === 2) xref.objectStreams.add(f2);
    }
  }
  return dict;
}

/** Follows every section from `startxref`; undefined when any is not what it should be. */
async function readXref(src: RangeReader): Promise<Xref | undefined> {
  const tail = (await src.read(Math.max(0, src.size - tailBytes), tailBytes)).toString('latin1');
  const start = [...tail.matchAll(/startxref\s+(\d+)/g)].at(-1)?.[1];
  if (start === undefined) return undefined;
  const xref: Xref = { offsets: new Map(), objectStreams: new Set(), sections: [], entries: 0 };
  const queue = [Number(start)];
  while (queue.length) {
    const at = queue.shift()!;
    if (xref.sections.includes(at) || at >= src.size || xref.sections.length > 64) return undefined;
    xref.sections.push(at);
    const head = (await src.read(at, 32)).toString('latin1');
    const trailer = /^\s*xref/.test(head) ? await readTable(src, at, xref)
      : /^\s*\d+\s+\d+\s+obj/.test(head) ? await readXrefStream(src, at, xref)
      : undefined;
    if (!trailer || /\/Encrypt\b/.test(trailer)) return undefined;
    for (const key of ['Prev', 'XRefStm']) {
      const next = intIn(trailer, key);
      if (next !== undefined) queue.push(next);
    }
  }
  return xref.offsets.size ? xref : undefined;
}

export const planPdf = unsureOnFault(async function planPdf(src: RangeReader): Promise<boolean> {
  const xref = await readXref(src);
  if (!xref) return false;
  const boundaries = [...new Set([...xref.offsets.values(), ...xref.sections, src.size])].sort((a, b) => a - b);
  const nextBoundary = new Map(boundaries.map((b, i) => [b, boundaries[i + 1] ?? src.size]));
  const large: [num: number, offset: number, end: number][] = [];
  const wanted: Span[] = [];
  for (const [num, offset] of xref.offsets) {
    const end = nextBoundary.get(offset) ?? src.size;
    if (end - offset <= smallObjectBytes || xref.objectStreams.has(num)) wanted.push([offset, end]);
    else {
      large.push([num, offset, end]);
      wanted.push([offset, offset + objectHeadBytes], [end - objectTailBytes, end]);
    }
  }
  await src.ensureAll(wanted, gapBytes);
  for (const [num, offset] of xref.offsets) {
    const m = /^\s*(\d+)\s+\d+\s+obj/.exec((await src.read(offset, 32)).toString('latin1'));
    if (!m || Number(m[1]) !== num) return false;
  }
  const whole: Span[] = [];
  for (const [, offset, end] of large) {
    const head = (await src.read(offset, objectHeadBytes)).toString('latin1');
    const dict = dictAt(head);
    // Not a stream whose dictionary fits the head: a big dictionary or array the page tree may need.
    if (!dict || !/^\s*stream(\r\n|\n)/.test(head.slice(dict.end))) whole.push([offset, end]);
  }
  await src.ensureAll(whole, gapBytes);
  return true;
});
