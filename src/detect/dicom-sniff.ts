/**
 * DICOM files normally carry a 128-byte preamble and "DICM" (file-type finds those). Files written
 * without it (raw data sets, PS3.10 §7.1 allows none only outside media, yet they circulate) start with a
 * group 0x0002 or 0x0008 element. This sniffs that start in explicit or implicit VR little endian.
 */
import type { Detected } from './detected.js';

const VRS = new Set([
  'AE', 'AS', 'AT', 'CS', 'DA', 'DS', 'DT', 'FL', 'FD', 'IS', 'LO', 'LT', 'OB', 'OD', 'OF', 'OL', 'OV', 'OW',
  'PN', 'SH', 'SL', 'SQ', 'SS', 'ST', 'SV', 'TM', 'UC', 'UI', 'UL', 'UN', 'UR', 'US', 'UT', 'UV',
]);

export function sniffDicom(head: Uint8Array): Detected | null {
  if (head.length < 12) return null;
  const b = Buffer.from(head.buffer, head.byteOffset, head.byteLength);
  const group = b.readUInt16LE(0);
  const element = b.readUInt16LE(2);
  if (group !== 0x0002 && group !== 0x0008) return null;
  // Group lengths (element 0) or small element numbers are what such files begin with.
  if (element > 0x0020) return null;
  const vr = b.toString('latin1', 4, 6);
  if (VRS.has(vr)) return { dataType: 'dicom', mimeType: 'application/dicom', ext: 'dcm' };
  // Implicit VR: a 32-bit length that fits the file's scale and an even value.
  const length = b.readUInt32LE(4);
  if (length > 0 && length < 1024 && length % 2 === 0) {
    return { dataType: 'dicom', mimeType: 'application/dicom', ext: 'dcm' };
  }
  return null;
}
