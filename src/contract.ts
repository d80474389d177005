/**
 * The product contract as code: the job the backend enqueues and the result the worker saves. Zod schemas
 * are the single source of the TypeScript types and of the JSON Schema files for backends in other
 * languages. This module imports nothing of ours: every layer may depend on it.
 */
import { z } from 'zod';

export const DATA_TYPES = ['image', 'video', 'audio', 'pdf', 'dicom', 'text'] as const;
export const DataTypeSchema = z.enum(DATA_TYPES);
export type DataType = z.infer<typeof DataTypeSchema>;

export const ERROR_CODES = [
  'INVALID_JOB',
  'STORAGE_NOT_CONFIGURED',
  'URL_NOT_ALLOWED',
  'NOT_FOUND',
  'ACCESS_DENIED',
  'STORAGE_UNAVAILABLE',
  'DOWNLOAD_TIMEOUT',
  'RESULT_SINK_UNAVAILABLE',
  'TOO_LARGE',
  'UNSUPPORTED_TYPE',
  'CORRUPT_ASSET',
  'ENCRYPTED_ASSET',
  'EXTRACT_TIMEOUT',
  'WORKER_FAULT',
] as const;
export const ErrorCodeSchema = z.enum(ERROR_CODES);
export type ErrorCode = z.infer<typeof ErrorCodeSchema>;

export const StorageSourceSchema = z.object({
  type: z.literal('storage'),
  storageId: z.string().min(1).max(128),
  key: z.string().min(1).max(1024),
  versionId: z.string().min(1).max(1024).optional(),
});

export const UrlSourceSchema = z.object({
  type: z.literal('url'),
  url: z.url({ protocol: /^https?$/ }),
});

export const ExtractJobSchema = z.object({
  /** The backend's id of the asset; also the BullMQ jobId, so a second enqueue is deduplicated. */
  assetId: z.string().min(1).max(256),
  source: z.discriminatedUnion('type', [StorageSourceSchema, UrlSourceSchema]),
  /** A hint only: the bytes decide. */
  dataType: DataTypeSchema.optional(),
  /** Lowers, never raises, MAX_ASSET_BYTES. */
  maxBytes: z.number().int().positive().optional(),
  /**
   * Orders results of the same asset: the stored result is the one of the highest version, and among
   * equal (or absent) versions the one enqueued last. A backend that can enqueue an asset twice from
   * places that race (two uploads, two services) sets it, e.g. to the upload's time in ms or a revision
   * counter; a job with a version outranks one without.
   */
  version: z.number().int().nonnegative().optional(),
});
export type ExtractJob = z.infer<typeof ExtractJobSchema>;
export type AssetSource = ExtractJob['source'];

const nonNegative = z.number().nonnegative();
const positiveInt = z.number().int().positive();

export const ImageInfoSchema = z.object({
  format: z.string(),
  width: positiveInt,
  height: positiveInt,
  orientation: z.number().int().min(1).max(8),
  displayWidth: positiveInt,
  displayHeight: positiveInt,
  frames: positiveInt,
  hasAlpha: z.boolean(),
  channels: positiveInt,
  bitsPerSample: positiveInt.optional(),
  colorSpace: z.string().optional(),
});
export type ImageInfo = z.infer<typeof ImageInfoSchema>;

export const VideoInfoSchema = z.object({
  container: z.string(),
  durationSec: nonNegative,
  width: positiveInt,
  height: positiveInt,
  rotation: z.union([z.literal(0), z.literal(90), z.literal(180), z.literal(270)]),
  displayWidth: positiveInt,
  displayHeight: positiveInt,
  fps: nonNegative,
  frameCount: z.number().int().nonnegative(),
  videoCodec: z.string(),
  bitRate: nonNegative.optional(),
  audio: z
    .object({ codec: z.string(), sampleRate: nonNegative, channels: z.number().int().nonnegative() })
    .optional(),
});
export type VideoInfo = z.infer<typeof VideoInfoSchema>;

export const AudioInfoSchema = z.object({
  container: z.string(),
  codec: z.string(),
  durationSec: nonNegative,
  sampleRate: nonNegative,
  channels: z.number().int().nonnegative(),
  bitRate: nonNegative.optional(),
  bitsPerSample: positiveInt.optional(),
  lossless: z.boolean().optional(),
});
export type AudioInfo = z.infer<typeof AudioInfoSchema>;

export const PdfInfoSchema = z.object({
  pageCount: z.number().int().nonnegative(),
  pages: z.array(z.object({ width: nonNegative, height: nonNegative })),
  encrypted: z.boolean(),
  version: z.string().optional(),
});
export type PdfInfo = z.infer<typeof PdfInfoSchema>;

const dicomTagValue = z.union([z.string(), z.number(), z.array(z.union([z.string(), z.number()]))]);

export const DicomInfoSchema = z.object({
  // Columns and Rows (0028,0011/0010). Absent for objects without an image: structured reports,
  // waveforms, presentation states, DICOMDIR.
  width: z.number().int().nonnegative().optional(),
  height: z.number().int().nonnegative().optional(),
  frames: positiveInt,
  modality: z.string().optional(),
  transferSyntaxUID: z.string(),
  sopClassUID: z.string().optional(),
  sopInstanceUID: z.string().optional(),
  studyInstanceUID: z.string().optional(),
  seriesInstanceUID: z.string().optional(),
  bitsAllocated: positiveInt.optional(),
  photometricInterpretation: z.string().optional(),
  pixelSpacing: z.tuple([z.number(), z.number()]).optional(),
  sliceThickness: z.number().optional(),
  tags: z.record(z.string(), dicomTagValue),
});
export type DicomInfo = z.infer<typeof DicomInfoSchema>;

export const TEXT_FORMATS = ['plain', 'markdown', 'html', 'json', 'csv'] as const;
export const TextInfoSchema = z.object({
  encoding: z.string(),
  bom: z.boolean(),
  charCount: z.number().int().nonnegative(),
  lineCount: z.number().int().nonnegative(),
  format: z.enum(TEXT_FORMATS),
});
export type TextInfo = z.infer<typeof TextInfoSchema>;

/** What one data type's extractor produces: exactly one section, named by its data type. */
export type SectionByType = { [K in DataType]: NonNullable<AssetResult[K]> };

export const AssetErrorSchema = z.object({
  code: ErrorCodeSchema,
  message: z.string(),
  retriable: z.boolean(),
  /** How long the store asked the worker to wait (its Retry-After), when it throttled: the job waits that long. */
  retryAfterMs: z.number().int().nonnegative().optional(),
});

export const TimingsSchema = z.object({
  sign: nonNegative,
  download: nonNegative,
  extract: nonNegative,
  total: nonNegative,
});
export type Timings = z.infer<typeof TimingsSchema>;

export const AssetResultSchema = z.object({
  schemaVersion: z.literal(1),
  assetId: z.string(),
  status: z.enum(['ok', 'failed']),
  dataType: DataTypeSchema.optional(),
  mimeType: z.string().optional(),
  sizeBytes: z.number().int().nonnegative().optional(),
  /** Hex sha256 of the bytes downloaded. */
  sha256: z.string().regex(/^[0-9a-f]{64}$/).optional(),
  /**
   * What `sha256` covers, present with it: `full` is the whole object; `partial` is the bytes fetched by
   * a ranged read (the ranges concatenated in offset order), when only the metadata's part of a large
   * object was read (docs/performance.md).
   */
  sha256Scope: z.enum(['full', 'partial']).optional(),
  error: AssetErrorSchema.optional(),
  image: ImageInfoSchema.optional(),
  video: VideoInfoSchema.optional(),
  audio: AudioInfoSchema.optional(),
  pdf: PdfInfoSchema.optional(),
  dicom: DicomInfoSchema.optional(),
  text: TextInfoSchema.optional(),
  timingsMs: TimingsSchema,
  processedAt: z.iso.datetime(),
});
export type AssetResult = z.infer<typeof AssetResultSchema>;
