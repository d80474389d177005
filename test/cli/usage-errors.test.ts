/**
 * Every usage error reads the same: one line naming the problem, then the command's usage, exit 2, and
 * nothing on stdout. They are found before the configuration is read (a broken environment does not hide
 * them) and before any heavy module is loaded.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { cli, root } from './run-cli.js';

// An environment the configuration refuses: a usage error must still be the answer.
const badEnv = { REDIS_URL: 'not-a-url' };

const cases: [args: string[], problem: string, usage: string][] = [
  [[], 'asset-meta: no command given', 'Usage: asset-meta <command>'],
  [['--bogus'], 'asset-meta: unknown option "--bogus"', 'Usage: asset-meta <command>'],
  [['frobnicate'], 'asset-meta: unknown command "frobnicate"', 'Usage: asset-meta <command>'],
  [['probe', '--bogus', 'x'], "asset-meta probe: unknown option '--bogus'", 'Usage: asset-meta probe <path|url|dir>...'],
  [['probe'], 'asset-meta probe: no input given: name files, directories or http(s) URLs', 'Usage: asset-meta probe'],
  [['probe', 'x', '--format', 'xml'], 'asset-meta probe: --format must be json, jsonl or table, not "xml"', 'Usage: asset-meta probe'],
  [['probe', 'x', '--format'], "asset-meta probe: option '--format <value>' argument missing", 'Usage: asset-meta probe'],
  [['storages'], 'asset-meta storages: no action given: the action is check', 'Usage: asset-meta storages check'],
  [['storages', 'list'], 'asset-meta storages: unknown action "list": the action is check', 'Usage: asset-meta storages check'],
  [['storages', 'check', 'a', 'b'], 'asset-meta storages: unexpected argument "b": check takes at most one storage id', 'Usage: asset-meta storages check'],
  [['storages', 'check', '--expiry-wait-ms=-5'], 'asset-meta storages: --expiry-wait-ms must be a whole number of 0 or more, not "-5"', 'Usage: asset-meta storages check'],
  [['worker', 'now'], "asset-meta worker: unexpected argument 'now'", 'Usage: asset-meta worker'],
  [['replay', '--timeout-ms', 'soon'], 'asset-meta replay: --timeout-ms must be a whole number of 0 or more, not "soon"', 'Usage: asset-meta replay'],
  [['replay', 'a', 'b'], 'asset-meta replay: unexpected argument "b": replay takes one directory', 'Usage: asset-meta replay'],
  [['replay'], 'asset-meta replay: --storage ID is needed (in a checkout, npm run replay starts a loopback store)', 'Usage: asset-meta replay'],
  [['dev-store'], 'asset-meta: unknown command "dev-store"', 'Usage: asset-meta <command>'],
];

describe('usage errors', () => {
  it.concurrent.each(cases)('asset-meta %j', async (args, problem, usage) => {
    const run = await cli(args, badEnv);
    const [first, second] = run.stderr.split('\n');
    expect(first).toBe(problem);
    expect(second).toMatch(new RegExp(`^${usage.replace(/[|.*+?()[\]{}]/g, '\\$&')}`));
    expect(run.stderr).not.toContain('invalid configuration');
    expect(run.stdout).toBe('');
    expect(run.code).toBe(2);
  });

  it('a parse error of a command that reads its own arguments (enqueue) reads the same', async () => {
    const run = await cli(['enqueue', '--bogus']);
    expect(run.stderr.split('\n').slice(0, 2)).toEqual([
      "asset-meta enqueue: unknown option '--bogus'",
      expect.stringMatching(/^Usage: asset-meta enqueue /),
    ]);
    expect(run.code).toBe(2);
  });

  it('help is exit 0 on stdout, also as "help <command>"', async () => {
    const [top, sub] = await Promise.all([cli(['--help']), cli(['help', 'replay'])]);
    expect(top.stdout).toMatch(/^Usage: asset-meta <command>/);
    expect(top.stdout).toContain('replay [dir]');
    expect(sub.stdout).toMatch(/^Usage: asset-meta replay/);
    expect([top.code, sub.code]).toEqual([0, 0]);
  });
});

/**
 * What `asset-meta` loads before a command runs: the modules reached by static (non-type) imports from
 * src/cli.ts and the command modules it picks. Heavy modules (extractors, storage SDKs, the queue, zod)
 * must be reached only through `await import()` inside a command.
 */
describe('help and usage errors load only light modules', () => {
  const staticImports = (file: string): string[] => {
    const source = readFileSync(file, 'utf8');
    const specifiers = [...source.matchAll(/^import\s+(?!type\b)(?:[^'";]*?\sfrom\s+)?'([^']+)'/gm)].map((m) => m[1]!);
    return specifiers.map((s) => (s.startsWith('.') ? path.resolve(path.dirname(file), s.replace(/\.js$/, '.ts')) : s));
  };
  const closure = (start: string[]): Set<string> => {
    const seen = new Set<string>();
    const queue = [...start];
    while (queue.length) {
      const next = queue.pop()!;
      if (seen.has(next)) continue;
      seen.add(next);
      if (next.endsWith('.ts')) queue.push(...staticImports(next));
    }
    return seen;
  };

  // The Node version check imports nothing and runs first.
  const light = (m: string) => m.startsWith('node:') || m.startsWith(path.join(root, 'src', 'cli')) || m === path.join(root, 'src', 'node-version.ts');
  it.each(['cli.ts', 'cli/probe.ts', 'cli/enqueue.ts', 'cli/storages.ts', 'cli/replay.ts', 'cli/worker.ts'])('src/%s', (file) => {
    const loaded = [...closure([path.join(root, 'src', file)])];
    const heavy = loaded.filter((m) => !light(m));
    expect(heavy).toEqual([]);
  });
});
