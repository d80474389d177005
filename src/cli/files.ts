import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';

/**
 * The inputs named on the command line, each directory replaced by the files under it (walked
 * recursively; expected.json files and dotfiles skipped). Never rejects: a path that cannot be read, or
 * is no regular file, is kept as given, for its caller to report as that input's failure.
 */
export async function expandPaths(args: string[]): Promise<string[]> {
  const out: string[] = [];
  for (const arg of args) {
    if (/^https?:\/\//i.test(arg)) {
      out.push(arg);
      continue;
    }
    const isDirectory = await stat(arg).then((st) => st.isDirectory(), () => false);
    out.push(...(isDirectory ? await walk(arg) : [arg]));
  }
  return out;
}

/** Every entry under `dir` but directories (walked in turn); a directory that cannot be listed is kept itself. */
async function walk(dir: string): Promise<string[]> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch {
    return [dir];
  }
  const out: string[] = [];
  for (const e of entries.sort((a, b) => a.name.localeCompare(b.name))) {
    if (e.name.startsWith('.')) continue;
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...(await walk(p)));
    else if (!e.name.endsWith('.expected.json')) out.push(p);
  }
  return out;
}
