/**
 * Local files, no queue, no storage, no database: what `asset-meta probe` and the fixture suite run.
 * The same result as the worker would save, with the file's own sha256.
 */
import type { Stats } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { AssetResult } from './contract.js';
import type { ExtractConfig } from './config.js';
import { AccessDeniedError, AssetError, NotFoundError, StorageUnavailableError, UnsupportedTypeError } from './errors.js';
import { hashAndExtract, type Probed } from './extractors/extract-file.js';
import { asExtractError, failedResult, okResult, zeroTimings } from './result.js';

/** Probes one local file: its size, sha256 and metadata (hashAndExtract in-process, or ExtractPool.probe). */
export type ProbeRunner = (path: string, config: ExtractConfig) => Promise<Probed>;

export async function probeFile(
  path: string,
  config: ExtractConfig,
  run: ProbeRunner = hashAndExtract,
  assetId: string = path,
): Promise<AssetResult> {
  const started = performance.now();
  const refused = await notARegularFile(path);
  if (refused) return failedResult(assetId, refused, { ...zeroTimings(), total: performance.now() - started });
  const { file, extracted, error } = await run(path, config);
  const total = performance.now() - started;
  // The time spent reading and hashing is the thread's own figure; the rest of the call is extraction.
  const extract = total - (file?.hashMs ?? 0);
  const timings = { sign: 0, download: 0, extract, total };
  const facts = file ? { sizeBytes: file.sizeBytes, sha256: file.sha256 } : undefined;
  if (extracted && facts) return okResult(assetId, facts, extracted, timings);
  return failedResult(assetId, asExtractError(error ?? new Error('no metadata and no error')), timings, facts);
}

/**
 * Why a path cannot be handed to extraction (undefined for a regular file): opening a FIFO blocks a thread
 * for good; devices, sockets and directories are no assets.
 */
async function notARegularFile(path: string): Promise<AssetError | undefined> {
  const st = await stat(path).catch(openError);
  if (st instanceof AssetError) return st;
  return st.isFile() ? undefined : new UnsupportedTypeError(`${kindOf(st)}, not a regular file`);
}

function kindOf(st: Stats): string {
  if (st.isDirectory()) return 'a directory';
  if (st.isFIFO()) return 'a FIFO (named pipe)';
  if (st.isSocket()) return 'a socket';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  return 'a special file';
}

/** A failed stat as the contract's code; the message names the cause, never the path (it is the assetId). */
function openError(err: unknown): AssetError {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOENT' || code === 'ENOTDIR') return new NotFoundError('no such file', { cause: err });
  if (code === 'ELOOP') return new NotFoundError('too many levels of symbolic links', { cause: err });
  if (code === 'ENAMETOOLONG') return new NotFoundError('file name too long', { cause: err });
  if (code === 'EACCES' || code === 'EPERM') return new AccessDeniedError('permission denied', { cause: err });
  return new StorageUnavailableError(`cannot read the file (${code ?? 'unknown error'})`, { cause: err });
}
