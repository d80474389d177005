import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';

/** Files named on the command line, directories walked recursively; expected.json files and dotfiles skipped. */
export async function expandPaths(args: string[]): Promise<string[]> {
  const out: string[] = [];
  for (const arg of args) {
    if (/^https?:\/\//i.test(arg)) {
      out.push(arg);
      continue;
    }
    const st = await stat(arg);
    if (st.isDirectory()) out.push(...(await walk(arg)));
    else out.push(arg);
  }
  return out;
}

async function walk(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  const out: string[] = [];
  for (const e of entries.sort((a, b) => a.name.localeCompare(b.name))) {
    if (e.name.startsWith('.')) continue;
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...(await walk(p)));
    else if (e.isFile() && !e.name.endsWith('.expected.json')) out.push(p);
  }
  return out;
}
