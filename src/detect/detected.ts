/** What detection found out about a file's bytes: the type every later stage works from. */
import type { DataType } from '../contract.js';

export interface Detected {
  dataType: DataType;
  mimeType: string;
  /** Short format name from the signature (file-type's ext, or ours: 'svg', 'txt', 'dcm'). */
  ext: string;
}
