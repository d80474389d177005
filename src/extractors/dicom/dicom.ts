/**
 * DICOM: image size, frames, identifiers and an allow-list of tags, read with dicom-parser from the data set
 * before the pixel data (reader.ts), never the pixel data. Patient and institution identifiers stay out of
 * the result unless DICOM_INCLUDE_PHI=true (docs/contract.md §3, tags.ts).
 */
import type { DataSet } from 'dicom-parser';
import type { DicomInfo } from '../../contract.js';
import { AssetError, CorruptAssetError, messageOf } from '../../errors.js';
import { allowedTags } from './tags.js';
import { parserException, readDicomHeader } from './reader.js';
import type { Extractor } from '../extractor.js';

/** A DS/IS value, or undefined when absent or not a number. */
function numberAt(dataSet: DataSet, tag: string, index = 0): number | undefined {
  const value = dataSet.string(tag, index);
  return value !== undefined && Number.isFinite(Number(value)) ? Number(value) : undefined;
}

/** Maps dicom-parser's data set to the contract's section; `tags` per the allow-list. */
export function toDicomInfo(dataSet: DataSet, transferSyntaxUID: string, includePhi: boolean): DicomInfo {
  const text = (tag: string) => dataSet.string(tag)?.trim() || undefined;
  const frames = numberAt(dataSet, 'x00280008');
  const rowSpacing = numberAt(dataSet, 'x00280030', 0);
  const columnSpacing = numberAt(dataSet, 'x00280030', 1);
  const optional = {
    modality: text('x00080060'),
    sopClassUID: text('x00080016'),
    sopInstanceUID: text('x00080018'),
    studyInstanceUID: text('x0020000d'),
    seriesInstanceUID: text('x0020000e'),
    bitsAllocated: dataSet.uint16('x00280100') || undefined,
    photometricInterpretation: text('x00280004'),
    // PixelSpacing (0028,0030) is row spacing \ column spacing, in mm (PS3.3 §10.7.1.3).
    pixelSpacing: rowSpacing !== undefined && columnSpacing !== undefined ? ([rowSpacing, columnSpacing] as [number, number]) : undefined,
    sliceThickness: numberAt(dataSet, 'x00180050'),
  };
  // Columns and Rows belong to the Image Pixel module: an object without an image (a structured report,
  // a waveform, a DICOMDIR) has neither, and then no size is reported rather than 0 x 0.
  const width = dataSet.uint16('x00280011');
  const height = dataSet.uint16('x00280010');
  return {
    ...(width && height ? { width, height } : {}),
    // NumberOfFrames is absent on single-frame objects (PS3.3 §C.7.6.6).
    frames: frames !== undefined && Number.isInteger(frames) && frames > 0 ? frames : 1,
    transferSyntaxUID,
    ...Object.fromEntries(Object.entries(optional).filter(([, v]) => v !== undefined)),
    tags: allowedTags(dataSet, includePhi),
  };
}

export const extractDicom: Extractor = async (input, config) => {
  try {
    const { dataSet, transferSyntaxUID } = await readDicomHeader(input.path, undefined, input.bytes);
    if (!transferSyntaxUID) throw new CorruptAssetError('dicom file has no transfer syntax');
    return { dataType: 'dicom', mimeType: input.mimeType, section: toDicomInfo(dataSet, transferSyntaxUID, config.dicomIncludePhi) };
  } catch (err) {
    if (err instanceof AssetError) throw err;
    // dicom-parser throws strings and { exception, dataSet } objects, never Errors.
    throw new CorruptAssetError(`cannot read dicom: ${messageOf(err)}`, { cause: parserException(err) });
  }
};
