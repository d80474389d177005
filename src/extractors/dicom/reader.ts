/**
 * Reads a DICOM file's data set up to the pixel data, never the pixel data itself: dicom-parser parses
 * whatever it is given, so the bounds are ours. The file is read from its start in growing chunks (64 KiB,
 * doubling) until dicom-parser reaches (7FE0,0010): a 300 MB multi-frame file costs its header only. A
 * deflated data set (PS3.5 §A.5) is inflated in one call from a growing read of its compressed bytes
 * (4 KiB, doubling), both capped at the header cap: a deflate bomb inflates no further than the cap.
 *
 * Files without the 128-byte preamble and "DICM" (PS3.10 §7.1 wants both, yet they circulate): the
 * preamble is put back before a meta group; a bare data set's transfer syntax is guessed from its first
 * element (explicit VR if it names a VR, else implicit VR little endian).
 */
import { constants, inflateRawSync } from 'node:zlib';
import dicomParser, { type DataSet } from 'dicom-parser';
import { CorruptAssetError, TooLargeError, messageOf } from '../../errors.js';
import { readAtSync, withSourceSync, type Source } from '../read-sync.js';
import { sequenceDelimiterTag } from './plan-dicom.js';

/** Compressed bytes of a deflated data set read first. */
const deflatedFirstReadBytes = 4 * 1024;

export type DicomReadLimits = { firstChunkBytes: number; maxHeaderBytes: number };
/** What is read first (most headers fit); the most header (data set bytes before the pixel data, after inflating) read. */
const defaultLimits: DicomReadLimits = { firstChunkBytes: 64 * 1024, maxHeaderBytes: 64 * 1024 * 1024 };

/** The data set up to the pixel data element's header, meta group merged in; bytes read (compressed ones if deflated). */
export type DicomHeader = { dataSet: DataSet; transferSyntaxUID: string; bytesRead: number };

const pixelDataTag = 'x7fe00010';
const implicitLittleEndian = '1.2.840.10008.1.2';
const explicitLittleEndian = '1.2.840.10008.1.2.1';
const deflatedLittleEndian = '1.2.840.10008.1.2.1.99';
/** Item (FFFE,E000) tag, read as one little-endian uint32 (PS3.5 §A.4). */
const itemTag = 0xe000fffe;
/** Items of encapsulated pixel data walked at most (one 8-byte read each) when the file does not end with its delimiter. */
const maxPixelDataItems = 1 << 16;
/** Preamble (128 bytes) and "DICM". */
const prefixBytes = 132;

/**
 * How the file begins: `prefix` is put in front of its bytes before parsing (a missing preamble); a bare
 * data set's `transferSyntaxUID` is guessed, and dicom-parser then needs it as an option.
 */
type Layout = { prefix: Buffer; transferSyntaxUID?: string };

function sniffLayout(head: Buffer): Layout {
  if (head.length >= prefixBytes && head.toString('latin1', 128, 132) === 'DICM') return { prefix: Buffer.alloc(0) };
  if (head.length >= 2 && head.readUInt16LE(0) === 0x0002) return { prefix: Buffer.concat([Buffer.alloc(128), Buffer.from('DICM')]) };
  const vr = head.length >= 6 ? head.toString('latin1', 4, 6) : '';
  return { prefix: Buffer.alloc(0), transferSyntaxUID: /^[A-Z]{2}$/.test(vr) ? explicitLittleEndian : implicitLittleEndian };
}

/** Thrown out of dicom-parser's inflater hook: the data set from `position` on is deflated. */
class DeflatedFrom {
  constructor(readonly position: number) {}
}

/**
 * What dicom-parser threw, without the partial data set it puts beside its exception (`{ exception,
 * dataSet }`): kept as an error's cause, that data set would hold every byte read, identifiers included.
 */
export function parserException(err: unknown): unknown {
  return err && typeof err === 'object' && 'exception' in err && 'dataSet' in err ? err.exception : err;
}

/** PS3.5 §7.1: elements ascend by tag. A partial parse that goes backwards is reading garbage. */
function outOfOrder(dataSet: DataSet | undefined): string | undefined {
  let previous = '';
  for (const tag of Object.keys(dataSet?.elements ?? {})) {
    if (tag.startsWith('x0002')) continue;
    if (tag < previous) return `element ${tag} follows ${previous}`;
    previous = tag;
  }
  return undefined;
}

/** One parse of the bytes read so far: the data set once the pixel data is reached or all bytes are there, else undefined. */
function tryParse(bytes: Buffer, complete: boolean, layout: Layout, inflated: boolean): DataSet | undefined {
  let dataSet: DataSet | undefined;
  try {
    dataSet = dicomParser.parseDicom(bytes, {
      untilTag: pixelDataTag,
      ...(layout.transferSyntaxUID ? { TransferSyntaxUID: layout.transferSyntaxUID } : {}),
      // dicom-parser parses what the inflater returns from its first byte on: the inflated data set.
      inflater: (arr: Uint8Array, position: number) => {
        if (inflated) return arr.subarray(position);
        throw new DeflatedFrom(position);
      },
    });
    if (complete || dataSet.elements[pixelDataTag]) return dataSet;
  } catch (err) {
    if (err instanceof DeflatedFrom) throw err;
    if (complete) throw new CorruptAssetError(`cannot read dicom: ${messageOf(err)}`, { cause: parserException(err) });
    dataSet = (err as { dataSet?: DataSet }).dataSet;
  }
  const garbage = outOfOrder(dataSet);
  if (garbage) throw new CorruptAssetError(`cannot read dicom: ${garbage}`);
  return undefined;
}

function tooLarge(limits: DicomReadLimits): TooLargeError {
  return new TooLargeError(`dicom header is over ${limits.maxHeaderBytes} bytes before the pixel data`);
}

/** `length` bytes at `position`, all of them: the size was known when the read began. */
function readAll(fd: Source, position: number, length: number): Buffer {
  const bytes = readAtSync(fd, position, length);
  if (bytes.length < length) throw new CorruptAssetError('dicom file shrank while being read');
  return bytes;
}

/**
 * Truncation shows where the pixel data's own length, or an item of encapsulated pixel data or its delimiter,
 * lies past the end of the file. Most encapsulated pixel data ends the file (one 8-byte read); where an
 * element follows (DataSetTrailingPadding, PS3.10 §7.2), the item headers are walked to the delimiter.
 */
function checkPixelDataEnd(fd: Source, size: number, dataSet: DataSet, shift: number): void {
  const element = dataSet.elements[pixelDataTag];
  if (!element) return;
  if (!element.hadUndefinedLength) {
    const end = element.dataOffset - shift + element.length;
    if (end > size) throw new CorruptAssetError(`dicom pixel data ends at byte ${end}, file has ${size}: truncated`);
    return;
  }
  if (readAtSync(fd, Math.max(0, size - 8), 8).readUInt32LE(0) === sequenceDelimiterTag) return;
  for (let at = element.dataOffset - shift, items = 0; items < maxPixelDataItems; items++) {
    const item = readAtSync(fd, at, 8);
    if (item.length < 8) throw new CorruptAssetError('dicom encapsulated pixel data has no end: file truncated');
    if (item.readUInt32LE(0) === sequenceDelimiterTag) return;
    if (item.readUInt32LE(0) !== itemTag) throw new CorruptAssetError(`dicom encapsulated pixel data has no item at byte ${at}`);
    at += 8 + item.readUInt32LE(4);
  }
  throw new TooLargeError(`dicom encapsulated pixel data has over ${maxPixelDataItems} items`);
}

/** Reads the header of the DICOM file at `path` (or `bytes`, the whole file when the caller holds it). */
export async function readDicomHeader(path: string, limits = defaultLimits, bytes?: Buffer): Promise<DicomHeader> {
  return withSourceSync(path, bytes, (fd, size) => {
    let held = readAll(fd, 0, Math.min(size, Math.max(limits.firstChunkBytes, prefixBytes)));
    const layout = sniffLayout(held);
    const shift = layout.prefix.length;
    for (;;) {
      let dataSet: DataSet | undefined;
      try {
        // Without a prefix to put back the bytes are parsed as read (no copy).
        dataSet = tryParse(shift ? Buffer.concat([layout.prefix, held]) : held, held.length >= size, layout, false);
      } catch (err) {
        if (!(err instanceof DeflatedFrom)) throw err;
        const start = err.position - shift;
        return readDeflated(fd, size, start, Buffer.concat([layout.prefix, held.subarray(0, start)]), layout, limits);
      }
      if (dataSet) {
        checkPixelDataEnd(fd, size, dataSet, shift);
        const transferSyntaxUID = layout.transferSyntaxUID ?? dataSet.string('x00020010') ?? '';
        return { dataSet, transferSyntaxUID, bytesRead: held.length };
      }
      if (held.length >= limits.maxHeaderBytes) throw tooLarge(limits);
      const next = Math.min(size, held.length * 2, limits.maxHeaderBytes);
      held = Buffer.concat([held, readAll(fd, held.length, next - held.length)]);
    }
  });
}

/**
 * The deflated data set from file offset `start` on, after the meta group `meta` (preamble put back).
 * Until the end of the file is read, the inflate flushes what it has rather than failing on the cut.
 */
function readDeflated(fd: Source, size: number, start: number, meta: Buffer, layout: Layout, limits: DicomReadLimits): DicomHeader {
  for (let want = deflatedFirstReadBytes; ; want *= 2) {
    // The meta group may say the data set starts past the end of the file: then there is nothing to inflate.
    const compressed = readAll(fd, start, Math.min(Math.max(0, size - start), want, limits.maxHeaderBytes));
    const complete = start + compressed.length >= size;
    let inflated: Buffer;
    try {
      const finishFlush = complete ? constants.Z_FINISH : constants.Z_SYNC_FLUSH;
      inflated = inflateRawSync(compressed, { maxOutputLength: limits.maxHeaderBytes, finishFlush });
    } catch (err) {
      if ((err as { code?: unknown }).code === 'ERR_BUFFER_TOO_LARGE') throw tooLarge(limits);
      throw new CorruptAssetError(`cannot inflate dicom data set: ${messageOf(err)}`, { cause: err });
    }
    const dataSet = tryParse(Buffer.concat([meta, inflated]), complete, layout, true);
    if (dataSet) return { dataSet, transferSyntaxUID: deflatedLittleEndian, bytesRead: compressed.length };
    if (inflated.length >= limits.maxHeaderBytes || compressed.length >= limits.maxHeaderBytes) throw tooLarge(limits);
  }
}
