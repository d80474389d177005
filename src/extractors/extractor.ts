/**
 * The one interface every data type's extractor implements. Extractors know nothing of queues, storage
 * or sinks: they get a local file that holds untrusted bytes and return one contract section.
 *
 * Raw library shapes (sharp, ffprobe, pdf.js, dicom-parser) never leave their extractor: each maps them
 * to the contract's section, in the contract's vocabulary (docs/contract.md §3).
 */
import type { DataType, SectionByType } from '../contract.js';
import type { ExtractConfig } from '../config.js';
import type { Detected } from '../detect/detected.js';

export interface ExtractInput extends Detected {
  /** A local file, read-only, holding untrusted bytes. */
  path: string;
  sizeBytes: number;
  /**
   * All of the file's bytes, when the caller already read all of them (files up to the detection head,
   * 64 KiB): extractors may read these instead of opening the file again. Never to be written to.
   */
  bytes?: Buffer;
}

/** One section, tagged by the type it belongs to. An extractor may re-classify (an audio-only MP4 is audio). */
export type Extracted = {
  [K in DataType]: { dataType: K; mimeType: string; section: SectionByType[K] };
}[DataType];

export type Extractor = (input: ExtractInput, config: ExtractConfig) => Promise<Extracted>;
