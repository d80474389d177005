/**
 * DICOM (PS3.10 §7, PS3.5 §7.1): the extractor reads the data set up to the Pixel Data element (7FE0,0010),
 * so the object is read from its start in growing ranges until that element's header is held, and its last
 * 8 bytes, where encapsulated pixel data mostly ends with its Sequence Delimitation Item. Where an element
 * follows that, the extractor walks the items: the file is read whole, as a deflated data set is.
 */
import { unsureOnFault, type RangeReader } from '../range-plan.js';

/** Header bytes searched at most before giving up (a header this large is rare; the file is read). */
const maxHeaderBytes = 16 * 1024 * 1024;
/** The element's tag and what follows it, up to its value, in each byte order. */
const pixelDataLe = Buffer.from([0xe0, 0x7f, 0x10, 0x00]);
const pixelDataBe = Buffer.from([0x7f, 0xe0, 0x00, 0x10]);
/** Explicit VR header of Pixel Data: tag, VR, 2 reserved bytes, 4-byte length (PS3.5 §7.1.2). */
const elementHeaderBytes = 12;
/** (FFFE,E0DD) as a little-endian uint32 (PS3.5 §A.4); the reader checks the same file end. */
export const sequenceDelimiterTag = 0xe0ddfffe;

export const planDicom = unsureOnFault(async function planDicom(src: RangeReader, headBytes: number): Promise<boolean> {
  for (let held = headBytes; ; held *= 2) {
    const bytes = await src.read(0, Math.min(held, src.size));
    const at = [bytes.indexOf(pixelDataLe), bytes.indexOf(pixelDataBe)].filter((i) => i >= 0);
    if (at.length) {
      const end = Math.min(...at) + elementHeaderBytes;
      await src.ensureAll([[0, end], [src.size - 8, src.size]]);
      const header = await src.read(end - elementHeaderBytes, elementHeaderBytes);
      const encapsulated = /^O[BW]$/.test(header.toString('latin1', 4, 6)) && header.readUInt32LE(8) === 0xffffffff;
      return !encapsulated || (await src.read(src.size - 8, 4)).readUInt32LE(0) === sequenceDelimiterTag;
    }
    if (bytes.length >= src.size || held >= maxHeaderBytes) return false;
  }
});
