/**
 * The one interface every data type's extractor implements: a local file of untrusted bytes in, one
 * contract section out (docs/contract.md §3). Raw library shapes never leave their extractor.
 */
import type { DataType, SectionByType } from '../contract.js';
import type { ExtractConfig } from '../config.js';
import type { Detected } from '../detect/detected.js';

export interface ExtractInput extends Detected {
  /** A local file, read-only, holding untrusted bytes. */
  path: string;
  sizeBytes: number;
  /** All of the file's bytes, when the caller already holds them (files up to 64 KiB); read-only. */
  bytes?: Buffer;
}

/** One section, tagged by the type it belongs to. An extractor may re-classify (an audio-only MP4 is audio). */
export type Extracted = {
  [K in DataType]: { dataType: K; mimeType: string; section: SectionByType[K] };
}[DataType];

export type Extractor = (input: ExtractInput, config: ExtractConfig) => Promise<Extracted>;
