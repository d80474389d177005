/**
 * For the image header readers' differential tests: where a JS reader answers for some bytes, libvips
 * (through sharp, as the image extractor calls it) must give the same ImageInfo.
 */
import sharp, { type Metadata } from 'sharp';
import { imageInfoOf, sharpOptions } from '../../src/extractors/image-sharp.js';

type Verdict = { ok: true; info: unknown } | { ok: false };

async function bySharp(bytes: Buffer): Promise<Verdict> {
  try {
    return { ok: true, info: imageInfoOf(await sharp(bytes, sharpOptions).metadata()) };
  } catch {
    return { ok: false };
  }
}

/** Runs `read` over each case; where it answers, compares with libvips. Returns how often it answered and every disagreement. */
export async function agreeWithSharp(
  cases: [string, Buffer][],
  read: (bytes: Buffer) => Metadata | undefined,
): Promise<{ answered: number; mismatches: string[] }> {
  let answered = 0;
  const mismatches: string[] = [];
  for (const [name, bytes] of cases) {
    const meta = read(bytes);
    if (!meta) continue;
    answered++;
    const ours = { ok: true, info: imageInfoOf(meta) };
    const theirs = await bySharp(bytes);
    if (JSON.stringify(theirs) !== JSON.stringify(ours)) mismatches.push(`${name}: ours ${JSON.stringify(ours)} libvips ${JSON.stringify(theirs)}`);
  }
  return { answered, mismatches };
}
