/**
 * Reads a DICOM file's data set up to the pixel data, never the pixel data itself: the file is read in
 * growing chunks from its start (64 KiB, doubling) until dicom-parser reaches (7FE0,0010), so a 300 MB
 * multi-frame file costs its header only. A deflated data set (PS3.5 §A.5) is inflated as a stream the
 * same way, so a deflate bomb inflates no further than the header cap.
 *
 * Files without the 128-byte preamble and "DICM" are read too (they circulate, though PS3.10 §7.1 wants
 * both): when they start with the meta group the missing preamble is put back; when they are a bare
 * data set the transfer syntax is guessed from the first element (explicit VR if it names a VR, else
 * implicit VR little endian).
 */
import { createReadStream } from 'node:fs';
import { pipeline } from 'node:stream';
import { createInflateRaw, inflateRawSync } from 'node:zlib';
import dicomParser, { type DataSet } from 'dicom-parser';
import { CorruptAssetError, TooLargeError, messageOf } from '../../errors.js';
import { readAtSync, withSourceSync, type Source } from '../read-sync.js';

/** What is read first; most headers fit. */
export const dicomFirstChunkBytes = 64 * 1024;
/** The most header (data set bytes before the pixel data, after inflating) read before giving up. */
export const dicomMaxHeaderBytes = 64 * 1024 * 1024;

export interface DicomReadLimits {
  firstChunkBytes: number;
  maxHeaderBytes: number;
}

export interface DicomHeader {
  /** The data set up to the pixel data element's header, meta group merged in. */
  dataSet: DataSet;
  transferSyntaxUID: string;
  /** Bytes read from the file (compressed bytes for a deflated data set). */
  bytesRead: number;
}

const pixelDataTag = 'x7fe00010';
const implicitLittleEndian = '1.2.840.10008.1.2';
const explicitLittleEndian = '1.2.840.10008.1.2.1';
const deflatedLittleEndian = '1.2.840.10008.1.2.1.99';
/** Sequence Delimitation Item (FFFE,E0DD) with length 0: how encapsulated pixel data ends (PS3.5 §A.4). */
const sequenceDelimiter = Buffer.from([0xfe, 0xff, 0xdd, 0xe0, 0, 0, 0, 0]);

/** How the file begins; `prefix` is put in front of its bytes before parsing (a missing preamble). */
interface Layout {
  prefix: Buffer;
  /** For a bare data set: the transfer syntax guessed, which dicom-parser then needs as an option. */
  transferSyntaxUID?: string;
}

function sniffLayout(head: Buffer): Layout {
  if (head.length >= 132 && head.toString('latin1', 128, 132) === 'DICM') return { prefix: Buffer.alloc(0) };
  if (head.length >= 2 && head.readUInt16LE(0) === 0x0002) {
    const prefix = Buffer.alloc(132);
    prefix.write('DICM', 128, 'latin1');
    return { prefix };
  }
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
  if (!dataSet) return undefined;
  let previous = '';
  for (const tag of Object.keys(dataSet.elements)) {
    if (tag.startsWith('x0002')) continue;
    if (tag < previous) return `element ${tag} follows ${previous}`;
    previous = tag;
  }
  return undefined;
}

/**
 * One parse of the bytes read so far. Returns the data set when the pixel data was reached, or when all
 * bytes are there; undefined when more bytes may help.
 */
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

/** Truncation shows where the pixel data's own length or end marker lies past the end of the file. */
function checkPixelDataEnd(fd: Source, size: number, dataSet: DataSet, shift: number): void {
  const element = dataSet.elements[pixelDataTag];
  if (!element) return;
  if (element.hadUndefinedLength) {
    const tail = readAtSync(fd, Math.max(0, size - sequenceDelimiter.length), sequenceDelimiter.length);
    if (!tail.equals(sequenceDelimiter)) throw new CorruptAssetError('dicom encapsulated pixel data has no end: file truncated');
    return;
  }
  const end = element.dataOffset - shift + element.length;
  if (end > size) throw new CorruptAssetError(`dicom pixel data ends at byte ${end}, file has ${size}: truncated`);
}

/** Where the plain read stopped because the data set is deflated: inflating goes on from `start`. */
interface DeflatedStart {
  start: number;
  /** The bytes before `start`, preamble put back: the meta group. */
  meta: Buffer;
  layout: Layout;
}

/** Reads the header of the DICOM file at `path`; see the module comment. */
export async function readDicomHeader(
  path: string,
  limits: DicomReadLimits = { firstChunkBytes: dicomFirstChunkBytes, maxHeaderBytes: dicomMaxHeaderBytes },
  /** The whole file, when the caller holds it (ExtractInput.bytes). */
  bytes?: Buffer,
): Promise<DicomHeader> {
  const plain = withSourceSync(path, bytes, (fd, size) => {
    const read = readPlain(fd, size, limits);
    return 'dataSet' in read ? read : (readSmallDeflated(fd, size, read, limits) ?? read);
  });
  if ('dataSet' in plain) return plain;
  return readDeflated(path, plain.start, plain.meta, plain.layout, limits);
}

/** Deflated data sets up to this size (compressed) are first tried in one synchronous inflate. */
const smallDeflatedBytes = 256 * 1024;

/**
 * A small deflated data set that inflates whole within the first chunk: inflated in one synchronous call
 * (`maxOutputLength` stops a bomb at that size) and parsed as complete, which is what the streaming read
 * below does with a stream that ends before its first target (an async stream cost ~1.5 ms a file).
 * Anything else (larger, corrupt, cut short, more than the first chunk) is left to the streaming read,
 * so that its answer, error or not, stays the only one.
 */
function readSmallDeflated(fd: Source, size: number, at: DeflatedStart, limits: DicomReadLimits): DicomHeader | undefined {
  const compressed = size - at.start;
  if (compressed > smallDeflatedBytes) return undefined;
  let inflated: Buffer;
  try {
    inflated = inflateRawSync(readAtSync(fd, at.start, compressed), { maxOutputLength: limits.firstChunkBytes - 1 });
  } catch {
    return undefined;
  }
  const dataSet = tryParse(Buffer.concat([at.meta, inflated]), true, at.layout, true);
  return dataSet && { dataSet, transferSyntaxUID: deflatedLittleEndian, bytesRead: compressed };
}

/**
 * The plain (not deflated) read, with synchronous reads (read-sync.ts): the first chunk, then doubling
 * until the pixel data is reached, the file ends or the cap is hit.
 */
function readPlain(fd: Source, size: number, limits: DicomReadLimits): DicomHeader | DeflatedStart {
  let fileBytes = readAtSync(fd, 0, Math.min(size, limits.firstChunkBytes));
  const layout = sniffLayout(fileBytes);
  const shift = layout.prefix.length;
  for (;;) {
    const complete = fileBytes.length >= size;
    let dataSet: DataSet | undefined;
    try {
      // Without a prefix to put back the bytes are parsed as read (no copy).
      dataSet = tryParse(shift ? Buffer.concat([layout.prefix, fileBytes]) : fileBytes, complete, layout, false);
    } catch (err) {
      if (!(err instanceof DeflatedFrom)) throw err;
      const start = err.position - shift;
      return { start, meta: Buffer.concat([layout.prefix, fileBytes.subarray(0, start)]), layout };
    }
    if (dataSet) {
      checkPixelDataEnd(fd, size, dataSet, shift);
      return { dataSet, transferSyntaxUID: transferSyntaxOf(dataSet, layout), bytesRead: fileBytes.length };
    }
    if (fileBytes.length >= limits.maxHeaderBytes) throw tooLarge(limits);
    const next = Math.min(size, fileBytes.length * 2, limits.maxHeaderBytes);
    const more = readAtSync(fd, fileBytes.length, next - fileBytes.length);
    if (more.length === 0) throw new CorruptAssetError('dicom file shrank while being read');
    fileBytes = Buffer.concat([fileBytes, more]);
  }
}

/** The deflated data set from `start` to the end of the file, inflated as a stream in growing steps. */
async function readDeflated(
  path: string,
  start: number,
  meta: Buffer,
  layout: Layout,
  limits: DicomReadLimits,
): Promise<DicomHeader> {
  // A stream of its own (deflated files are rare): inflation is driven chunk by chunk, as before.
  const source = createReadStream(path, { start });
  const inflate = pipeline(source, createInflateRaw({ chunkSize: 256 * 1024 }), () => {});
  const chunks: Buffer[] = [meta];
  let inflatedBytes = 0;
  let target = limits.firstChunkBytes;
  try {
    const it = inflate[Symbol.asyncIterator]();
    for (;;) {
      let step: IteratorResult<Buffer>;
      try {
        step = (await it.next()) as IteratorResult<Buffer>;
      } catch (err) {
        throw new CorruptAssetError(`cannot inflate dicom data set: ${messageOf(err)}`, { cause: err });
      }
      if (!step.done) {
        chunks.push(step.value);
        inflatedBytes += step.value.length;
        if (inflatedBytes < target) continue;
      }
      const bytes = Buffer.concat(chunks);
      chunks.length = 0;
      chunks.push(bytes);
      const dataSet = tryParse(bytes, step.done === true, layout, true);
      if (dataSet) return { dataSet, transferSyntaxUID: deflatedLittleEndian, bytesRead: source.bytesRead };
      if (inflatedBytes >= limits.maxHeaderBytes) throw tooLarge(limits);
      target = Math.min(target * 2, limits.maxHeaderBytes);
    }
  } finally {
    source.destroy();
    inflate.destroy();
  }
}

function transferSyntaxOf(dataSet: DataSet, layout: Layout): string {
  return layout.transferSyntaxUID ?? dataSet.string('x00020010') ?? '';
}
