/**
 * The fuzz campaign's inputs (scripts/fuzz.ts): byte-level mutations of every fixture, and, with the
 * DICOM seed, structure mutations of a file that carries planted identifiers (dicom-mutator.ts).
 */
import { readFileSync } from 'node:fs';
import { dicomMutationKinds, mutateDicom, phiSeed, seedBytes, type DicomMutationKind } from './dicom-mutator.js';

/** mulberry32: a small seeded PRNG, good enough to pick mutations reproducibly. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export type MutationKind = 'bitflip' | 'truncate' | 'splice' | 'header-swap' | 'insert' | 'zero-run';
export const mutationKinds: MutationKind[] = ['bitflip', 'truncate', 'splice', 'header-swap', 'insert', 'zero-run'];

/** One mutated input: which fixture (or generated seed), how, and the bytes. */
export interface FuzzCase {
  fixture: string;
  kind: MutationKind | DicomMutationKind;
  bytes: Buffer;
}

export const int = (rng: () => number, below: number) => Math.floor(rng() * Math.max(1, below));

/** Mutates `input` one way; `other` is a second fixture for splices and header swaps. */
export function mutate(rng: () => number, kind: MutationKind, input: Buffer, other: Buffer): Buffer {
  const out = Buffer.from(input);
  switch (kind) {
    case 'bitflip': {
      // A few flips, biased towards the header where parsers make their decisions.
      const flips = 1 + int(rng, 8);
      for (let i = 0; i < flips && out.length > 0; i++) {
        const at = rng() < 0.5 ? int(rng, Math.min(out.length, 512)) : int(rng, out.length);
        out[at]! ^= 1 << int(rng, 8);
      }
      return out;
    }
    case 'truncate':
      return out.subarray(0, int(rng, out.length));
    case 'splice': {
      const cut = int(rng, input.length);
      return Buffer.concat([input.subarray(0, cut), other.subarray(int(rng, other.length))]);
    }
    case 'header-swap': {
      // Another format's signature on this body (a PNG header on an MP4, ...).
      const n = Math.min(4 + int(rng, 60), other.length, out.length);
      other.copy(out, 0, 0, n);
      return out;
    }
    case 'insert': {
      // A run of one repeated byte: huge lengths, counts and offsets when it lands on a size field.
      const at = int(rng, out.length);
      const run = Buffer.alloc(1 + int(rng, 4096), [0xff, 0x00, 0x7f, 0x80][int(rng, 4)]!);
      return Buffer.concat([out.subarray(0, at), run, out.subarray(at)]);
    }
    case 'zero-run': {
      const at = int(rng, out.length);
      out.fill(0, at, Math.min(out.length, at + 1 + int(rng, 256)));
      return out;
    }
  }
}

/** Where cases of the generated DICOM seed say they come from. */
export const phiSeedName = 'generated/phi-seed.dcm';

/**
 * The cases of one round: `perFixture` mutations of every fixture, drawn from `rng` in a fixed order. With
 * `dicomSeed`, the planted-identifier DICOM seed is one more input for the byte-level mutators, and
 * `dicomSeed` structure mutations of it follow.
 */
export function* cases(rng: () => number, fixtures: string[], perFixture: number, dicomSeed = 0): Generator<FuzzCase> {
  const bytes = new Map(fixtures.map((f) => [f, readFileSync(f)]));
  const seed = phiSeed();
  if (dicomSeed > 0) bytes.set(phiSeedName, seedBytes(seed));
  const inputs = [...bytes.keys()];
  for (const fixture of inputs) {
    for (let i = 0; i < perFixture; i++) {
      const kind = mutationKinds[int(rng, mutationKinds.length)]!;
      const other = bytes.get(inputs[int(rng, inputs.length)]!)!;
      yield { fixture, kind, bytes: mutate(rng, kind, bytes.get(fixture)!, other) };
    }
  }
  for (let i = 0; i < dicomSeed; i++) {
    const kind = dicomMutationKinds[int(rng, dicomMutationKinds.length)]!;
    yield { fixture: phiSeedName, kind, bytes: mutateDicom(rng, kind, seed) };
  }
}
