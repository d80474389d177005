/** Placeholder until this data type's extractor lands: fails the asset with UNSUPPORTED_TYPE. */
import { UnsupportedTypeError } from '../errors.js';
import type { Extractor } from './extractor.js';

export const extractText: Extractor = async (input) => {
  throw new UnsupportedTypeError(`text assets are not supported yet (${input.mimeType})`);
};
