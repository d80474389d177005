/**
 * Large objects for ranged-read tests, made on the spot and sparse where they are large (the bulk of each
 * is a hole in the local file), and a loopback server that answers them by ranges from disk as an object
 * store does, counting the body bytes it reads for each object.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { appendFileSync, createReadStream, readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { pipeline } from 'node:stream/promises';
import { rangeOf } from '../helpers/object-server.js';

/**
 * A 1 s MP4 (640×360 H.264 at 25 fps, 48 kHz AAC) whose mdat is grown by `holeBytes` of zeros after its
 * samples, so that the moov box comes after a big mdat, as in a camera's file. The samples keep their
 * offsets (the hole trails them), so the sample tables need no change.
 */
export function mp4MoovAfterBigMdat(file: string, holeBytes: number): void {
  const clip = `${file}.clip.mp4`;
  execFileSync('ffmpeg', ['-v', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc2=s=640x360:r=25', '-f', 'lavfi', '-i', 'sine=sample_rate=48000',
    '-t', '1', '-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-f', 'mp4', clip]);
  const bytes = readFileSync(clip);
  const boxes: { type: string; start: number; size: number }[] = [];
  for (let at = 0; at < bytes.length; ) {
    const size = bytes.readUInt32BE(at);
    // ffmpeg writes 32-bit sizes for a file this small; 0 (to the end) or 1 (64-bit) would need more.
    if (size < 8) throw new Error(`unexpected box size ${size} in the clip`);
    boxes.push({ type: bytes.toString('latin1', at + 4, at + 8), start: at, size });
    at += size;
  }
  const types = boxes.map((b) => b.type);
  if (types.at(-1) !== 'moov' || types.at(-2) !== 'mdat') throw new Error(`clip boxes ${types.join(',')}: wanted mdat then moov`);
  const mdat = boxes.at(-2)!;
  const moov = boxes.at(-1)!;
  const head = Buffer.from(bytes.subarray(0, moov.start));
  head.writeUInt32BE(mdat.size + holeBytes, mdat.start);
  writeFileSync(file, head);
  truncateSync(file, head.length + holeBytes);
  appendFileSync(file, bytes.subarray(moov.start));
}

/** A 512×512 grey secondary capture with 100 frames of pixel data (a hole), explicit VR little endian. */
export function multiFrameDicom(file: string): void {
  const bmp = `${file}.bmp`;
  execFileSync('convert', ['-size', '512x512', 'gradient:black-white', '-depth', '8', '-type', 'Grayscale', '-compress', 'none', `BMP3:${bmp}`]);
  execFileSync('img2dcm', ['-i', 'BMP', bmp, file]);
  execFileSync('dcmodify', ['-nb', '-i', 'NumberOfFrames=100', '-m', 'SOPClassUID=1.2.840.10008.5.1.4.1.1.7.4', file]);
  const bytes = readFileSync(file);
  // Pixel Data (7FE0,0010), VR OW: its 4-byte length follows the tag, VR and 2 reserved bytes.
  const at = bytes.indexOf(Buffer.from([0xe0, 0x7f, 0x10, 0x00, 0x4f, 0x57]));
  const frame = bytes.readUInt32LE(at + 8);
  bytes.writeUInt32LE(frame * 100, at + 8);
  writeFileSync(file, bytes.subarray(0, at + 12));
  truncateSync(file, at + 12 + frame * 100);
}

/**
 * A 64×64 grey DICOM whose private OB element (0009,1001), `blobBytes` long, holds the bytes of the Pixel
 * Data tag (7FE0,0010) near its start, and whose Rows and Columns (group 0028) follow that element: a
 * search for the tag's bytes stops inside the element, before the header ends.
 */
export function dicomWithPixelTagInPrivateValue(file: string, blobBytes: number): void {
  const bmp = `${file}.bmp`;
  const blob = `${file}.blob`;
  execFileSync('convert', ['-size', '64x64', 'gradient:black-white', '-depth', '8', '-type', 'Grayscale', '-compress', 'none', `BMP3:${bmp}`]);
  execFileSync('img2dcm', ['-i', 'BMP', bmp, file]);
  writeFileSync(blob, Buffer.from([0xe0, 0x7f, 0x10, 0x00]));
  truncateSync(blob, blobBytes);
  execFileSync('dcmodify', ['-nb', '-i', '(0009,0010)=ACME', '-if', `(0009,1001)=${blob}`, file]);
}

export async function sha256Of(file: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(file), hash);
  return hash.digest('hex');
}

/**
 * Answers a GET for `file` as an object store does (RFC 9110): 200 without Range, 206 with `bytes=a-b` or
 * `bytes=a-`, 416 past the end, a strong ETag. `counted(n)` hears the body bytes read for the reply.
 * `ignoreRange`: as a plain web server without range support, 200 and the whole body, always.
 */
export function answerFile(req: IncomingMessage, res: ServerResponse, file: string, counted: (bytes: number) => void, ignoreRange = false): void {
  const size = statSync(file).size;
  const validators = { etag: `"${size}"`, ...(ignoreRange ? {} : { 'accept-ranges': 'bytes' }) };
  const range = ignoreRange ? undefined : rangeOf(req.headers.range, size);
  if (range === 'unsatisfiable') return void res.writeHead(416, { ...validators, 'content-range': `bytes */${size}` }).end();
  const { start, end } = range ?? { start: 0, end: size - 1 };
  if (range) {
    res.writeHead(206, { ...validators, 'content-range': `bytes ${start}-${end}/${size}`, 'content-length': end - start + 1 });
  } else {
    res.writeHead(200, { ...validators, 'content-length': size });
  }
  const body = createReadStream(file, { start, end });
  body.on('data', (chunk) => counted(chunk.length));
  pipeline(body, res).catch(() => res.destroy());
}
