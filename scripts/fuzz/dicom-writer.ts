/**
 * Writes DICOM Part 10 files element by element (explicit VR little endian, PS3.5 §7.1.2), for the fuzz
 * campaign's DICOM structure mutator and for tests that need hostile files made on the spot: nested
 * sequences of undefined length, huge elements, lengths that lie. Nothing here checks that what it writes
 * is valid; that is the point.
 */

/** VRs whose explicit-VR header has 2 reserved bytes and a 4-byte length (PS3.5 Table 7.1-1). */
const longVrs = new Set(['OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'SQ', 'SV', 'UC', 'UN', 'UR', 'UT', 'UV']);

/** Whether an explicit-VR header of this VR has a 4-byte length (12 bytes in all) rather than a 2-byte one. */
export const hasLongLength = (vr: string): boolean => longVrs.has(vr);

/** Length 0xFFFFFFFF: an element or item of undefined length, ended by a delimiter (PS3.5 §7.5). */
export const undefinedLength = 0xffff_ffff;

export const explicitLittleEndian = '1.2.840.10008.1.2.1';

/** (group,element) as two numbers, e.g. [0x0010, 0x0010] for PatientName. */
export type Tag = readonly [group: number, element: number];

/**
 * One element's header: tag, VR and `length` (the value's length, or a lie). The value itself is written
 * separately, so that a header can claim more or fewer bytes than follow it.
 */
export function elementHeader(tag: Tag, vr: string, length: number): Buffer {
  const long = longVrs.has(vr);
  const out = Buffer.alloc(long ? 12 : 8);
  out.writeUInt16LE(tag[0], 0);
  out.writeUInt16LE(tag[1], 2);
  out.write(vr, 4, 'latin1');
  if (long) out.writeUInt32LE(length >>> 0, 8);
  else out.writeUInt16LE(length & 0xffff, 6);
  return out;
}

/** Pads a text value to an even length (PS3.5 §7.1.1): NUL for UI, a space otherwise. */
function padded(vr: string, value: string | Buffer): Buffer {
  const bytes = typeof value === 'string' ? Buffer.from(value, 'latin1') : value;
  if (bytes.length % 2 === 0) return bytes;
  return Buffer.concat([bytes, Buffer.from([vr === 'UI' || vr === 'OB' || vr === 'UN' ? 0 : 0x20])]);
}

/** A whole element with its true length. */
export function element(tag: Tag, vr: string, value: string | Buffer): Buffer {
  const bytes = padded(vr, value);
  return Buffer.concat([elementHeader(tag, vr, bytes.length), bytes]);
}

/** An unsigned short (US) element. */
export function us(tag: Tag, value: number): Buffer {
  const v = Buffer.alloc(2);
  v.writeUInt16LE(value, 0);
  return element(tag, 'US', v);
}

/** An item tag (FFFE,E000), an item delimiter (FFFE,E00D) or a sequence delimiter (FFFE,E0DD). */
export function delimiter(kind: 'item' | 'item-end' | 'sequence-end', length: number = kind === 'item' ? undefinedLength : 0): Buffer {
  const out = Buffer.alloc(8);
  out.writeUInt16LE(0xfffe, 0);
  out.writeUInt16LE(kind === 'item' ? 0xe000 : kind === 'item-end' ? 0xe00d : 0xe0dd, 2);
  out.writeUInt32LE(length >>> 0, 4);
  return out;
}

/**
 * `depth` sequences of undefined length, each inside an item of undefined length of the one before, with
 * every delimiter in place (`closed`) or none of them (the file ends inside the innermost item).
 */
export function nestedSequences(tag: Tag, depth: number, closed = true): Buffer {
  const open = Buffer.concat([elementHeader(tag, 'SQ', undefinedLength), delimiter('item')]);
  const close = Buffer.concat([delimiter('item-end'), delimiter('sequence-end')]);
  return Buffer.concat([...Array<Buffer>(depth).fill(open), ...(closed ? Array<Buffer>(depth).fill(close) : [])]);
}

/** 128-byte preamble, "DICM" and the file meta group (PS3.10 §7.1) for an explicit VR little endian data set. */
export function part10Header(transferSyntaxUID = explicitLittleEndian): Buffer {
  const meta = Buffer.concat([
    element([0x0002, 0x0001], 'OB', Buffer.from([0, 1])),
    element([0x0002, 0x0002], 'UI', '1.2.840.10008.5.1.4.1.1.7'),
    element([0x0002, 0x0003], 'UI', '2.25.1234567890'),
    element([0x0002, 0x0010], 'UI', transferSyntaxUID),
  ]);
  const groupLength = Buffer.alloc(4);
  groupLength.writeUInt32LE(meta.length, 0);
  const preamble = Buffer.alloc(132);
  preamble.write('DICM', 128, 'latin1');
  return Buffer.concat([preamble, element([0x0002, 0x0000], 'UL', groupLength), meta]);
}

/** Made-up identifiers for hostile files: distinctive enough that any copy of them in an output is a leak. */
export const plantedPhi = {
  PatientName: 'Quixote^Zelinda^Marguerite',
  PatientID: 'PID-7Q3X9K4W2M',
  PatientBirthDate: '19361127',
} as const;

/** The patient module (0010,xxxx) with the planted identifiers. */
export function patientModule(phi: Readonly<Record<keyof typeof plantedPhi, string>> = plantedPhi): Buffer {
  return Buffer.concat([
    element([0x0010, 0x0010], 'PN', phi.PatientName),
    element([0x0010, 0x0020], 'LO', phi.PatientID),
    element([0x0010, 0x0030], 'DA', phi.PatientBirthDate),
  ]);
}

/** An 8x8 8-bit greyscale image's attributes and pixel data: what makes a file a DICOM image. */
export function imagePixelModule(): Buffer {
  return Buffer.concat([
    us([0x0028, 0x0002], 1),
    element([0x0028, 0x0004], 'CS', 'MONOCHROME2'),
    us([0x0028, 0x0010], 8),
    us([0x0028, 0x0011], 8),
    us([0x0028, 0x0100], 8),
    us([0x0028, 0x0101], 8),
    us([0x0028, 0x0102], 7),
    us([0x0028, 0x0103], 0),
    element([0x7fe0, 0x0010], 'OB', Buffer.alloc(64, 0x80)),
  ]);
}
