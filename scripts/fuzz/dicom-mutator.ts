/**
 * DICOM structure mutations for the fuzz campaign: where the byte-level mutators flip bits, these change
 * the element structure dicom-parser walks (PS3.5 §7): sequences nested thousands deep, lengths made
 * undefined, huge elements, lengths that lie. Each starts from a seed file that carries made-up patient
 * identifiers (plantedPhi), so that the campaign can check that none of them reaches any output.
 */
import {
  element,
  elementHeader,
  hasLongLength,
  imagePixelModule,
  nestedSequences,
  part10Header,
  patientModule,
  undefinedLength,
  type Tag,
} from './dicom-writer.js';

export type DicomMutationKind = 'dicom-deep-nesting' | 'dicom-undefined-length' | 'dicom-huge-element' | 'dicom-lying-length';
export const dicomMutationKinds: DicomMutationKind[] = ['dicom-deep-nesting', 'dicom-undefined-length', 'dicom-huge-element', 'dicom-lying-length'];

/** The largest element the huge-element mutation inserts: past the thread heap a naive copy would need. */
export const maxHugeElementBytes = 48 * 1024 * 1024;
/** The deepest nesting the deep-nesting mutation writes; 10,000 already overflows dicom-parser's stack. */
export const maxNestingDepth = 20_000;

/** A DICOM file as its Part 10 header and its data set's elements, each element one buffer, in order. */
export interface DicomSeed {
  header: Buffer;
  elements: Buffer[];
}

/**
 * An 8x8 greyscale image with the planted patient module: a valid file that extracts as ok, so that
 * mutations start from something every stage reads. Elements ascend by tag, as PS3.5 §7.1 wants.
 */
export function phiSeed(): DicomSeed {
  const split = (run: Buffer) => elementsOf(run);
  return {
    header: part10Header(),
    elements: [
      element([0x0008, 0x0016], 'UI', '1.2.840.10008.5.1.4.1.1.7'),
      element([0x0008, 0x0060], 'CS', 'OT'),
      ...split(patientModule()),
      element([0x0020, 0x000d], 'UI', '2.25.1'),
      ...split(imagePixelModule()),
    ],
  };
}

export const seedBytes = (seed: DicomSeed) => Buffer.concat([seed.header, ...seed.elements]);

/** Cuts a run of explicit VR little endian elements of defined length into one buffer each. */
function elementsOf(run: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let at = 0; at < run.length; ) {
    const { headerBytes, length } = headerAt(run, at);
    out.push(run.subarray(at, at + headerBytes + length));
    at += headerBytes + length;
  }
  return out;
}

/** The explicit VR header at `at`: its VR, its size and the length it claims. */
function headerAt(bytes: Buffer, at: number): { vr: string; headerBytes: number; length: number } {
  const vr = bytes.toString('latin1', at + 4, at + 6);
  const long = hasLongLength(vr);
  return { vr, headerBytes: long ? 12 : 8, length: long ? bytes.readUInt32LE(at + 8) : bytes.readUInt16LE(at + 6) };
}

const int = (rng: () => number, below: number) => Math.floor(rng() * Math.max(1, below));

/** A private tag of group 0009 (odd: private, PS3.5 §7.8), sorting before the patient module. */
const privateTag = (rng: () => number): Tag => [0x0009, 0x1000 + int(rng, 0xff)];

/** Mutates the seed's structure one way; the elements keep their order unless the mutation is about order. */
export function mutateDicom(rng: () => number, kind: DicomMutationKind, seed: DicomSeed): Buffer {
  const elements = [...seed.elements];
  const at = int(rng, elements.length + 1);
  switch (kind) {
    case 'dicom-deep-nesting': {
      // Deep, sometimes very deep; closed, or left open so the file ends inside the innermost item.
      const depth = rng() < 0.5 ? 1 + int(rng, 2_000) : 2_000 + int(rng, maxNestingDepth - 2_000);
      elements.splice(at, 0, nestedSequences([0x0040, 0xa730], depth, rng() < 0.7));
      break;
    }
    case 'dicom-undefined-length': {
      // An element's length made undefined: as UN (PS3.5 §6.2.2 allows it) or as a sequence.
      const i = int(rng, elements.length);
      const old = elements[i]!;
      const vr = rng() < 0.5 ? 'UN' : 'SQ';
      const header = elementHeader([old.readUInt16LE(0), old.readUInt16LE(2)], vr, undefinedLength);
      elements[i] = Buffer.concat([header, old.subarray(headerAt(old, 0).headerBytes)]);
      break;
    }
    case 'dicom-huge-element': {
      // Mostly a few MB, sometimes up to maxHugeElementBytes; in front of the patient module or anywhere.
      const size = rng() < 0.8 ? int(rng, 4 * 1024 * 1024) : int(rng, maxHugeElementBytes);
      const where = rng() < 0.5 ? 2 : at;
      elements.splice(where, 0, element(privateTag(rng), rng() < 0.5 ? 'OB' : 'UN', Buffer.alloc(size + (size % 2), int(rng, 256))));
      break;
    }
    case 'dicom-lying-length': {
      const i = int(rng, elements.length);
      const old = Buffer.from(elements[i]!);
      const { headerBytes, length } = headerAt(old, 0);
      const lies = [0, 1, length + 1, length - 1, length * 2 + 7, 0xfffe, 0x7fff_ffff, 0xffff_fffe];
      const lie = lies[int(rng, lies.length)]! >>> 0;
      if (headerBytes === 12) old.writeUInt32LE(lie, 8);
      else old.writeUInt16LE(lie & 0xffff, 6);
      elements[i] = old;
      break;
    }
  }
  return Buffer.concat([seed.header, ...elements]);
}
