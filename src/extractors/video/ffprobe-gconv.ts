/**
 * The environment the bundled ffprobe runs with: character-set conversion switched off.
 *
 * The bundled ffprobe is a static build (glibc linked in). When it converts text with iconv (the MPEG-TS
 * demuxer does for every service and provider name in a transport stream's SDT), glibc loads the
 * *host's* conversion modules (`/usr/lib/<arch>-linux-gnu/gconv/*.so`) into the static process, and the
 * two glibcs do not mix: ffprobe dies with SIGSEGV on every MPEG-TS file that ffmpeg itself writes
 * (static builds and a newer host glibc, seen here with Debian 12 and reported upstream, e.g.
 * kukhariev/ffprobe#163, gradio-app/gradio#13848). No library answers this; the fix is ours to make.
 *
 * glibc reads its module list from `GCONV_PATH` before the built-in directory, and the first entry for a
 * conversion wins. So a directory is written once per process whose `gconv-modules` repeats every
 * conversion module the host lists, each pointing at a module file that does not exist: iconv_open then
 * fails cleanly, and FFmpeg keeps the names' raw bytes (we never report them). Conversions built into
 * glibc (UTF-8, UTF-16, UCS-2, ASCII) stay available.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** Where a Debian-built static glibc looks for its modules (the bundled builds are made on Debian). */
export function hostGconvDir(arch = process.arch): string {
  const triplet = arch === 'arm64' ? 'aarch64-linux-gnu' : 'x86_64-linux-gnu';
  return `/usr/lib/${triplet}/gconv`;
}

/** The host's module lines (`module FROM TO FILE COST`), from its main list and its gconv-modules.d. */
export function hostGconvModules(dir = hostGconvDir()): Array<{ from: string; to: string; cost: string }> {
  const files = [path.join(dir, 'gconv-modules')];
  try {
    for (const name of readdirSync(path.join(dir, 'gconv-modules.d'))) {
      if (name.endsWith('.conf')) files.push(path.join(dir, 'gconv-modules.d', name));
    }
  } catch {
    // No gconv-modules.d: an older glibc layout.
  }
  const modules: Array<{ from: string; to: string; cost: string }> = [];
  for (const file of files) {
    let text: string;
    try {
      text = readFileSync(file, 'latin1');
    } catch {
      continue;
    }
    for (const line of text.split('\n')) {
      const [keyword, from, to, , cost] = line.replace(/#.*/, '').trim().split(/\s+/);
      if (keyword === 'module' && from && to) modules.push({ from, to, cost: cost ?? '1' });
    }
  }
  return modules;
}

/** The name of the module file every conversion is pointed at; it never exists. */
export const disabledModule = 'ASSET_META_NO_ICONV';

/** The text of the overriding `gconv-modules`. */
export function disabledGconvModules(modules = hostGconvModules()): string {
  return modules.map((m) => `module\t${m.from}\t${m.to}\t${disabledModule}\t${m.cost}\n`).join('');
}

let gconvPath: string | undefined;

/** The environment for a bundled ffprobe: only GCONV_PATH, pointing at the overriding list. */
export function bundledFfprobeEnv(): NodeJS.ProcessEnv {
  if (!gconvPath) {
    // A fresh private directory (mkdtemp, mode 0700): a list another user could write would let them
    // name a module for ffprobe to load.
    const dir = mkdtempSync(path.join(os.tmpdir(), 'asset-meta-gconv-'));
    writeFileSync(path.join(dir, 'gconv-modules'), disabledGconvModules());
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
    gconvPath = dir;
  }
  return { GCONV_PATH: gconvPath };
}
