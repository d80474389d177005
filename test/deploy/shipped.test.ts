/**
 * What the installed package ships (src and workers, compiled into dist) imports nothing that only the
 * checkout has: no development dependency, no script, no test helper. The development store, the
 * fuzzers and the benchmark live under scripts/ and are not compiled.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { expect, it } from 'vitest';
import { root } from '../cli/run-cli.js';

const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { devDependencies: Record<string, string>; dependencies: Record<string, string> };
const sources = (dir: string): string[] =>
  readdirSync(path.join(root, dir), { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(path.join(dir, e.name)) : e.name.endsWith('.ts') ? [path.join(dir, e.name)] : [],
  );
const specifiers = (file: string) => [...readFileSync(path.join(root, file), 'utf8').matchAll(/(?:from|import)\s*\(?\s*'([^']+)'/g)].map((m) => m[1]!);
const packageOf = (spec: string) => spec.split('/').slice(0, spec.startsWith('@') ? 2 : 1).join('/');
// The test runner's loader: imported only by a thread started from the TypeScript sources, never from dist.
const sourceOnly = new Set(['tsx']);

it.each([...sources('src'), ...sources('workers')])('%s imports only shipped code', (file) => {
  for (const spec of specifiers(file)) {
    if (spec.startsWith('.')) {
      const target = path.relative(root, path.resolve(path.dirname(path.join(root, file)), spec));
      expect(target, `${file} imports ${spec}`).toMatch(/^(src|workers)\//);
    } else if (!spec.startsWith('node:')) {
      const name = packageOf(spec);
      if (sourceOnly.has(name)) continue;
      expect(Object.hasOwn(pkg.devDependencies, name) && !Object.hasOwn(pkg.dependencies, name), `${file} imports the development dependency ${name}`).toBe(false);
    }
  }
});

it('the development store is not in src', () => {
  expect(sources('src').filter((f) => specifiers(f).some((s) => /s3rver|s3-server|dev-store|azurite/.test(s)))).toEqual([]);
});
