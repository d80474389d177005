/**
 * Runs the trusted command-line tools the cross-check compares against, and finds them on PATH.
 * Development only: these are Debian's packages (exiftool, ffprobe, mediainfo, poppler-utils, qpdf,
 * dcmtk), never a dependency of the worker.
 */
import { execFile } from 'node:child_process';

export interface ToolOutput {
  stdout: string;
  stderr: string;
  /** The exit code; null when the tool was killed. */
  code: number | null;
}

/** A tool that runs for longer than this on one fixture is reported, not waited for. */
const toolTimeoutMs = 120_000;
/** ffprobe -count_frames and exiftool on a large extra directory print a lot; more is a bug. */
const maxOutputBytes = 64 * 1024 * 1024;

/** Runs `bin args`, resolving with its output whatever its exit code (a refusal is an answer too). */
export function run(bin: string, args: string[]): Promise<ToolOutput> {
  return new Promise((resolve) => {
    execFile(bin, args, { timeout: toolTimeoutMs, maxBuffer: maxOutputBytes, encoding: 'utf8' }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : null) : 0;
      resolve({ stdout, stderr, code });
    });
  });
}

/** The tools the cross-check needs, by the name it calls them. */
export const requiredTools = ['exiftool', 'ffprobe', 'mediainfo', 'pdfinfo', 'qpdf', 'dcmdump', 'wc', 'file'] as const;
export type ToolName = (typeof requiredTools)[number];

/** Resolves each tool with `command -v`; returns the paths found and the names missing. */
export async function findTools(): Promise<{ paths: Record<ToolName, string>; missing: ToolName[] }> {
  const paths = {} as Record<ToolName, string>;
  const missing: ToolName[] = [];
  for (const name of requiredTools) {
    const out = await run('sh', ['-c', `command -v ${name}`]);
    const found = out.stdout.trim();
    if (out.code === 0 && found) paths[name] = found;
    else missing.push(name);
  }
  return { paths, missing };
}

/** Runs `fn` over `items` with at most `limit` in flight, keeping the order of the results. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}
