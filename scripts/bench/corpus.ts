/**
 * The benchmark's corpus, made in a temp directory and removed afterwards:
 * - small files over the six data types: the repository's fixtures that read as `ok`, plus files of
 *   everyday size made with the fixture scripts' tools (ffmpeg, dcmtk), copied round-robin
 *   up to a count per type;
 * - large files made cheaply: MP4 with the moov box at the end and at the front (a short lossless clip
 *   looped with `-stream_loop -c copy`), a PDF whose pages sit between two big image streams (holes),
 *   a multi-frame DICOM whose pixel data is a hole, a WAV whose samples are a hole.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, readdirSync, readFileSync, statSync, truncateSync, writeFileSync, openSync, writeSync, closeSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { DataType } from '../../src/contract.js';
import { writePdf } from './pdf-writer.js';

export const dataTypes: DataType[] = ['image', 'video', 'audio', 'pdf', 'dicom', 'text'];
const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const MiB = 1024 * 1024;

export interface CorpusFile {
  path: string;
  type: DataType;
  bytes: number;
  /** Short name for the tables. */
  label: string;
}

export interface Corpus {
  small: CorpusFile[];
  large: CorpusFile[];
}

export interface CorpusOptions {
  quick: boolean;
  /** Without the large objects (the queue-cost mode reads small files only). */
  smallOnly?: boolean;
}

const run = (cmd: string, args: string[]) => execFileSync(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
const ffmpeg = (...args: string[]) => run('ffmpeg', ['-v', 'error', '-y', ...args]);

/** Fixtures whose expected result is ok: failures are measured by the tests, not here. */
function okFixtures(type: DataType): string[] {
  const dir = path.join(repo, 'fixtures', type);
  return readdirSync(dir)
    .filter((f) => !f.endsWith('.expected.json') && existsSync(path.join(dir, `${f}.expected.json`)))
    .filter((f) => {
      const expected = JSON.parse(readFileSync(path.join(dir, `${f}.expected.json`), 'utf8')) as { status: string; dataType?: string };
      return expected.status === 'ok' && expected.dataType === type;
    })
    .map((f) => path.join(dir, f));
}

/** Files of everyday size, one set per type, made in `dir`. */
function everydayFiles(dir: string): Record<DataType, string[]> {
  const p = (name: string) => path.join(dir, name);
  ffmpeg('-f', 'lavfi', '-i', 'testsrc2=s=1920x1080', '-frames:v', '1', '-q:v', '3', p('photo.jpg'));
  ffmpeg('-f', 'lavfi', '-i', 'testsrc2=s=1280x720', '-frames:v', '1', p('screen.png'));
  ffmpeg('-f', 'lavfi', '-i', 'testsrc2=s=1024x768', '-frames:v', '1', '-c:v', 'libwebp', p('web.webp'));

  ffmpeg('-f', 'lavfi', '-i', 'testsrc2=s=640x360:r=25', '-f', 'lavfi', '-i', 'sine=f=440:sample_rate=48000', '-t', '3',
    '-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', '-c:a', 'aac', p('clip.mp4'));
  ffmpeg('-i', p('clip.mp4'), '-c', 'copy', '-movflags', '+faststart', p('clip-faststart.mp4'));
  ffmpeg('-i', p('clip.mp4'), '-c', 'copy', p('clip.mov'));
  ffmpeg('-i', p('clip.mp4'), '-c', 'copy', p('clip.mkv'));

  const sine = ['-f', 'lavfi', '-i', 'sine=f=330:sample_rate=44100:duration=30', '-ac', '2'];
  ffmpeg(...sine, '-c:a', 'libmp3lame', '-b:a', '128k', p('song.mp3'));
  ffmpeg(...sine, p('song.wav'));
  ffmpeg(...sine, '-c:a', 'flac', p('song.flac'));
  ffmpeg(...sine, '-c:a', 'libvorbis', p('song.ogg'));

  const bmp = p('g.bmp');
  ffmpeg('-f', 'lavfi', '-i', 'gradients=s=512x512', '-frames:v', '1', '-pix_fmt', 'gray', '-c:v', 'bmp', bmp);
  run('img2dcm', ['-i', 'BMP', bmp, p('slice.dcm')]);
  run('dcmodify', ['-nb', '-i', 'Modality=CT', '-i', 'PatientName=Doe^Jane', p('slice.dcm')]);

  const rows = Array.from({ length: 5000 }, (_, i) => `${i},item-${i},${(i * 7919) % 1000},"note ${i}"`);
  writeFileSync(p('table.csv'), `id,name,value,note\n${rows.join('\n')}\n`);
  writeFileSync(p('data.json'), JSON.stringify(rows.slice(0, 2000).map((r, i) => ({ i, r })), null, 2));
  writeFileSync(p('notes.txt'), 'Grüße aus Köln — naïve café.\n'.repeat(20_000));

  return {
    image: [p('photo.jpg'), p('screen.png'), p('web.webp')],
    video: [p('clip.mp4'), p('clip-faststart.mp4'), p('clip.mov'), p('clip.mkv')],
    audio: [p('song.mp3'), p('song.wav'), p('song.flac'), p('song.ogg')],
    pdf: [],
    dicom: [p('slice.dcm')],
    text: [p('table.csv'), p('data.json'), p('notes.txt')],
  };
}

function stat(file: string, type: DataType, label: string): CorpusFile {
  return { path: file, type, bytes: statSync(file).size, label };
}

/** MP4 of about `bytes`: a 4 s lossless 720p clip looped; the moov at the end, or at the front with faststart. */
function bigVideo(dir: string, clip: string, bytes: number, faststart: boolean): string {
  const loops = Math.max(0, Math.ceil(bytes / statSync(clip).size) - 1);
  const name = path.join(dir, `big-${Math.round(bytes / MiB)}m${faststart ? '-faststart' : ''}.mp4`);
  ffmpeg('-stream_loop', String(loops), '-i', clip, '-c', 'copy', ...(faststart ? ['-movflags', '+faststart'] : []), name);
  return name;
}

/**
 * A multi-frame DICOM of about `bytes`: a 512x512 RGB secondary capture whose pixel data element is
 * lengthened to whole frames, the file extended with a hole (explicit VR little endian, PS3.5 §7.1.2).
 */
function bigDicom(dir: string, bytes: number): string {
  const name = path.join(dir, `big-${Math.round(bytes / MiB)}m.dcm`);
  const bmp = path.join(dir, 'frame.bmp');
  ffmpeg('-f', 'lavfi', '-i', 'gradients=s=512x512', '-frames:v', '1', '-pix_fmt', 'gray', '-c:v', 'bmp', bmp);
  run('img2dcm', ['-i', 'BMP', bmp, name]);
  const head = readFileSync(name);
  const at = head.indexOf(Buffer.from([0xe0, 0x7f, 0x10, 0x00, 0x4f, 0x57]));
  if (at < 0) throw new Error('img2dcm wrote no explicit-VR OW pixel data');
  const frameBytes = head.readUInt32LE(at + 8);
  const frames = Math.ceil(bytes / frameBytes);
  run('dcmodify', ['-nb', '-i', `NumberOfFrames=${frames}`, '-i', 'Modality=CT', '-m', 'SOPClassUID=1.2.840.10008.5.1.4.1.1.7.4', name]);
  const withFrames = readFileSync(name);
  const pixel = withFrames.indexOf(Buffer.from([0xe0, 0x7f, 0x10, 0x00, 0x4f, 0x57]));
  const length = Buffer.alloc(4);
  length.writeUInt32LE(frames * frameBytes);
  const fd = openSync(name, 'r+');
  writeSync(fd, length, 0, 4, pixel + 8);
  closeSync(fd);
  truncateSync(name, pixel + 12 + frames * frameBytes);
  return name;
}

/** A 16-bit stereo 48 kHz PCM WAV of about `bytes`: the 44-byte canonical header and a hole of samples. */
function bigWav(dir: string, bytes: number): string {
  const name = path.join(dir, `big-${Math.round(bytes / MiB)}m.wav`);
  const data = bytes - (bytes % 4);
  const h = Buffer.alloc(44);
  h.write('RIFF', 0, 'latin1');
  h.writeUInt32LE(36 + data, 4);
  h.write('WAVEfmt ', 8, 'latin1');
  h.writeUInt32LE(16, 16);
  h.writeUInt16LE(1, 20);
  h.writeUInt16LE(2, 22);
  h.writeUInt32LE(48_000, 24);
  h.writeUInt32LE(48_000 * 4, 28);
  h.writeUInt16LE(4, 32);
  h.writeUInt16LE(16, 34);
  h.write('data', 36, 'latin1');
  h.writeUInt32LE(data, 40);
  writeFileSync(name, h);
  truncateSync(name, 44 + data);
  return name;
}

/** Makes the corpus in `dir` (which the caller removes). */
export async function makeCorpus(dir: string, options: CorpusOptions): Promise<Corpus> {
  const perType = options.quick ? 12 : 50;
  const everyday = everydayFiles(dir);
  const smallPdf = path.join(dir, 'report.pdf');
  await writePdf(smallPdf, { pages: 20, streamBytes: 256 * 1024 });
  everyday.pdf.push(smallPdf);

  const small: CorpusFile[] = [];
  for (const type of dataTypes) {
    const sources = [...everyday[type], ...okFixtures(type)];
    for (let i = 0; i < perType; i++) {
      const source = sources[i % sources.length]!;
      const target = path.join(dir, `${type}-${String(i).padStart(3, '0')}${path.extname(source)}`);
      copyFileSync(source, target);
      small.push(stat(target, type, path.basename(source)));
    }
  }

  if (options.smallOnly) return { small, large: [] };
  const clip = path.join(dir, 'clip-720p.mp4');
  ffmpeg('-f', 'lavfi', '-i', 'testsrc2=s=1280x720:r=25', '-f', 'lavfi', '-i', 'sine=f=440:sample_rate=48000', '-t', '4',
    '-c:v', 'libx264', '-preset', 'ultrafast', '-qp', '0', '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-b:a', '128k', clip);
  const scale = options.quick ? 1 / 16 : 1;
  const sized = (mib: number) => Math.max(24, Math.round(mib * scale)) * MiB;
  const large: CorpusFile[] = [
    stat(bigVideo(dir, clip, 10 * MiB, false), 'video', 'video 10 MB, moov at end'),
    stat(bigVideo(dir, clip, sized(100), false), 'video', `video ${sized(100) / MiB} MB, moov at end`),
    stat(bigVideo(dir, clip, sized(1024), false), 'video', `video ${sized(1024) / MiB} MB, moov at end`),
    stat(bigVideo(dir, clip, sized(600), true), 'video', `video ${sized(600) / MiB} MB, moov at front`),
  ];
  const pdf = path.join(dir, 'big.pdf');
  await writePdf(pdf, { pages: 500, streamBytes: sized(100) / 2 });
  large.push(stat(pdf, 'pdf', `pdf ${Math.round(statSync(pdf).size / MiB)} MB, 500 pages`));
  const dcm = bigDicom(dir, sized(200));
  large.push(stat(dcm, 'dicom', `dicom ${Math.round(statSync(dcm).size / MiB)} MB, multi-frame`));
  const wav = bigWav(dir, sized(200));
  large.push(stat(wav, 'audio', `wav ${Math.round(statSync(wav).size / MiB)} MB`));
  return { small, large };
}
