/**
 * Detect, then extract: what runs on one local file of untrusted bytes. The pipeline runs it in an
 * isolated thread (isolate.ts); `asset-meta probe` and the tests call the same function.
 */
import { stat } from 'node:fs/promises';
import type { ExtractConfig } from '../config.js';
import { AssetError, CorruptAssetError, messageOf } from '../errors.js';
import { detect } from '../detect/detect.js';
import type { Extracted } from './extractor.js';
import { FfprobeSpawnError, asDeploymentFault } from './ffprobe.js';
import { extractors } from './registry.js';

export async function extractFile(path: string, config: ExtractConfig): Promise<Extracted> {
  const [detected, st] = await Promise.all([detect(path), stat(path)]);
  const extractor = await extractors[detected.dataType]();
  try {
    return await extractor({ ...detected, path, sizeBytes: st.size }, config);
  } catch (err) {
    // Coded here, inside the extraction thread: only a coded error keeps its code across the boundary. A
    // parser's own complaint (a string, a plain object, a library Error) is the file's fault: CORRUPT_ASSET.
    const coded =
      err instanceof FfprobeSpawnError
        ? asDeploymentFault(err)
        : err instanceof AssetError
          ? err
          : new CorruptAssetError(messageOf(err), { cause: err });
    coded.detected ??= { dataType: detected.dataType, mimeType: detected.mimeType };
    throw coded;
  }
}
