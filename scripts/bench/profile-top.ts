/**
 * `tsx scripts/bench/profile-top.ts FILE.cpuprofile [N]`: the N functions with the most self time in a V8
 * CPU profile (node --cpu-prof), summed over every node of the same function and location.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

export interface TopEntry {
  name: string;
  selfMs: number;
  share: number;
}

export function profileTop(file: string, n = 15): TopEntry[] {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const nameOf = new Map<number, string>();
  for (const { id, callFrame: f } of profile.nodes) {
    const where = f.url ? ` ${f.url.replace(/^.*node_modules\//, '').replace(/^.*\/(dist-[^/]+|dist)\//, '')}:${f.lineNumber + 1}` : '';
    nameOf.set(id, `${f.functionName || '(anonymous)'}${where}`);
  }
  const self = new Map<string, number>();
  // A sample's time is the delta to the next sample; '(idle)' is the thread waiting, not working.
  profile.samples.forEach((id, i) => {
    const name = nameOf.get(id)!;
    if (name !== '(idle)') self.set(name, (self.get(name) ?? 0) + (profile.timeDeltas[i + 1] ?? 0));
  });
  const busy = [...self.values()].reduce((a, b) => a + b, 0);
  return [...self]
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([name, us]) => ({ name, selfMs: us / 1000, share: us / busy }));
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  const [file, n] = process.argv.slice(2);
  if (!file) throw new Error('usage: profile-top.ts FILE.cpuprofile [N]');
  for (const e of profileTop(file, Number(n ?? 15))) console.log(`${e.selfMs.toFixed(0).padStart(7)} ms ${(e.share * 100).toFixed(1).padStart(5)}%  ${e.name}`);
}
