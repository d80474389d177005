/**
 * The DICOM attributes a result may name in `dicom.tags`, by keyword (PS3.6), and how to read each. None of
 * `technicalTags` (the pixels, the acquisition geometry) is removed by PS3.15 Annex E's Basic Application
 * Level Confidentiality Profile (Table E.1-1): always reported. `identifyingTags` are those it removes or
 * blanks (patient, institution, people, dates and times, free-text descriptions, study and device
 * identifiers), plus manufacturer and model, which narrow a file down to a site: reported only with
 * DICOM_INCLUDE_PHI=true (docs/contract.md §3). Nothing else is ever reported. Values are read by the VR the
 * dictionary gives (implicit VR files carry none), trimmed, numbers as numbers; several values an array.
 */
import type { DataSet } from 'dicom-parser';

/** Value representations we read (PS3.5 §6.2). */
type Vr = 'AS' | 'CS' | 'DA' | 'DS' | 'IS' | 'LO' | 'PN' | 'SH' | 'ST' | 'TM' | 'UI' | 'US';
/** `tag` is dicom-parser's key: 'x' + group + element, lower-case hex. */
type TagDef = { tag: string; vr: Vr };

const def = (tag: string, vr: Vr): TagDef => ({ tag: `x${tag.toLowerCase()}`, vr });

/** Always reported: not touched by PS3.15 Table E.1-1. */
export const technicalTags: Readonly<Record<string, TagDef>> = {
  SpecificCharacterSet: def('00080005', 'CS'), ImageType: def('00080008', 'CS'), ConversionType: def('00080064', 'CS'),
  SeriesNumber: def('00200011', 'IS'), AcquisitionNumber: def('00200012', 'IS'), InstanceNumber: def('00200013', 'IS'),
  ImagePositionPatient: def('00200032', 'DS'), ImageOrientationPatient: def('00200037', 'DS'),
  KVP: def('00180060', 'DS'), SpacingBetweenSlices: def('00180088', 'DS'),
  SamplesPerPixel: def('00280002', 'US'), PlanarConfiguration: def('00280006', 'US'),
  BitsStored: def('00280101', 'US'), HighBit: def('00280102', 'US'), PixelRepresentation: def('00280103', 'US'),
  WindowCenter: def('00281050', 'DS'), WindowWidth: def('00281051', 'DS'),
  RescaleIntercept: def('00281052', 'DS'), RescaleSlope: def('00281053', 'DS'), RescaleType: def('00281054', 'LO'),
  LossyImageCompression: def('00282110', 'CS'), LossyImageCompressionRatio: def('00282112', 'DS'),
};

/** Reported only with DICOM_INCLUDE_PHI=true: removed or blanked by PS3.15 Table E.1-1 (or kept back by us). */
export const identifyingTags: Readonly<Record<string, TagDef>> = {
  PatientName: def('00100010', 'PN'), PatientID: def('00100020', 'LO'), PatientBirthDate: def('00100030', 'DA'),
  PatientSex: def('00100040', 'CS'), PatientAge: def('00101010', 'AS'), PatientSize: def('00101020', 'DS'),
  PatientWeight: def('00101030', 'DS'), OtherPatientIDs: def('00101000', 'LO'),
  InstitutionName: def('00080080', 'LO'), InstitutionAddress: def('00080081', 'ST'),
  InstitutionalDepartmentName: def('00081040', 'LO'),
  ReferringPhysicianName: def('00080090', 'PN'), PerformingPhysicianName: def('00081050', 'PN'),
  OperatorsName: def('00081070', 'PN'), AccessionNumber: def('00080050', 'SH'), StudyID: def('00200010', 'SH'),
  StudyDate: def('00080020', 'DA'), SeriesDate: def('00080021', 'DA'), AcquisitionDate: def('00080022', 'DA'),
  ContentDate: def('00080023', 'DA'), StudyTime: def('00080030', 'TM'), SeriesTime: def('00080031', 'TM'),
  AcquisitionTime: def('00080032', 'TM'), ContentTime: def('00080033', 'TM'),
  StudyDescription: def('00081030', 'LO'), SeriesDescription: def('0008103E', 'LO'),
  StationName: def('00081010', 'SH'), DeviceSerialNumber: def('00181000', 'LO'),
  Manufacturer: def('00080070', 'LO'), ManufacturerModelName: def('00081090', 'LO'), SoftwareVersions: def('00181020', 'LO'),
};

export type TagValue = string | number | (string | number)[];

/** Reads one attribute by its VR; undefined when absent or empty. */
export function readTag(dataSet: DataSet, { tag, vr }: TagDef): TagValue | undefined {
  const element = dataSet.elements[tag];
  if (!element || element.length === 0) return undefined;
  if (vr === 'US') {
    const values = Array.from({ length: Math.ceil(element.length / 2) }, (_, i) => dataSet.uint16(tag, i));
    return single(values.filter((v) => v !== undefined));
  }
  // Text VRs: backslash separates values (PS3.5 §6.4), except in ST, where it is just a character.
  const raw = vr === 'ST' ? dataSet.text(tag) : dataSet.string(tag);
  if (raw === undefined) return undefined;
  const parts = vr === 'ST' ? [raw] : raw.split('\\').map((s) => s.trim());
  if (vr === 'DS' || vr === 'IS') {
    // A number string that does not parse is reported as the file wrote it rather than as NaN.
    const numbers = parts.map(Number);
    return single<string | number>(numbers.some((n) => !Number.isFinite(n)) ? parts : numbers);
  }
  return raw.trim() === '' ? undefined : single(parts);
}

function single<T>(values: T[]): T | T[] | undefined {
  return values.length <= 1 ? values[0] : values;
}

/** The `tags` of a result: the technical list, plus the identifying one when `includePhi`. */
export function allowedTags(dataSet: DataSet, includePhi: boolean): Record<string, TagValue> {
  const out: Record<string, TagValue> = {};
  for (const [keyword, tagDef] of Object.entries(includePhi ? { ...technicalTags, ...identifyingTags } : technicalTags)) {
    const value = readTag(dataSet, tagDef);
    if (value !== undefined) out[keyword] = value;
  }
  return out;
}
