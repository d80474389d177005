/**
 * Output helpers for the command line: aligned tables and colours that switch off when the output is not
 * a terminal (or NO_COLOR is set), so piped output stays plain.
 */
import type { AssetResult } from '../contract.js';

export function colours(stream: NodeJS.WriteStream = process.stdout) {
  const on = stream.isTTY === true && !process.env.NO_COLOR;
  const wrap = (code: number) => (s: string) => (on ? `\u001b[${code}m${s}\u001b[0m` : s);
  return { red: wrap(31), green: wrap(32), yellow: wrap(33), dim: wrap(2), bold: wrap(1) };
}

const ansi = /\u001b\[[0-9;]*m/g;
const width = (s: string) => s.replace(ansi, '').length;

/** A table with a header row, columns padded to their widest cell. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(width(h), ...rows.map((r) => width(r[i] ?? ''))));
  const line = (cells: string[]) =>
    cells.map((c, i) => c + ' '.repeat(Math.max(0, (widths[i] ?? 0) - width(c)))).join('  ').trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

/** The few facts that tell one result from another, for a table cell. */
export function summary(result: AssetResult): string {
  if (result.status === 'failed') return `${result.error?.code}: ${result.error?.message}`;
  const s = result;
  if (s.image) return `${s.image.format} ${s.image.width}x${s.image.height} orient ${s.image.orientation} frames ${s.image.frames}`;
  if (s.video) return `${s.video.container}/${s.video.videoCodec} ${s.video.width}x${s.video.height} rot ${s.video.rotation} ${s.video.durationSec.toFixed(3)}s ${s.video.frameCount}f`;
  if (s.audio) return `${s.audio.container}/${s.audio.codec} ${s.audio.durationSec.toFixed(3)}s ${s.audio.sampleRate}Hz ${s.audio.channels}ch`;
  if (s.pdf) return `${s.pdf.pageCount} pages${s.pdf.encrypted ? ' encrypted' : ''}`;
  if (s.dicom) {
    const size = s.dicom.width !== undefined && s.dicom.height !== undefined ? `${s.dicom.width}x${s.dicom.height} frames ${s.dicom.frames}` : 'no image';
    return `${s.dicom.modality ?? '?'} ${size}`;
  }
  if (s.text) return `${s.text.format} ${s.text.encoding} ${s.text.lineCount} lines ${s.text.charCount} chars`;
  return '';
}

/** A one-line progress bar on stderr, drawn only on a terminal. */
export function progress(total: number, stream: NodeJS.WriteStream = process.stderr) {
  const draw = stream.isTTY === true && total > 1;
  return {
    tick(done: number) {
      if (!draw) return;
      const n = 30;
      const filled = Math.round((done / total) * n);
      stream.write(`\r[${'#'.repeat(filled)}${'.'.repeat(n - filled)}] ${done}/${total}`);
    },
    end() {
      if (draw) stream.write('\r\u001b[K');
    },
  };
}
