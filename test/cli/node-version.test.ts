/**
 * An older Node gets one line naming the version needed: the check is the first import of each entry
 * point, and it agrees with package.json's engines.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { isSupportedNode, minimumNode } from '../../src/node-version.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const firstImport = (file: string) => readFileSync(path.join(root, file), 'utf8').match(/^import .*$/m)?.[0];

describe('the Node.js version check', () => {
  it('accepts 22.19 and later lines, refuses older ones', () => {
    expect(['20.20.2', '22.0.0', '22.18.9'].map(isSupportedNode)).toEqual([false, false, false]);
    expect(['22.19.0', '22.23.5', '24.1.0', '26.12.1'].map(isSupportedNode)).toEqual([true, true, true, true]);
  });

  it('is what package.json declares', () => {
    const engines = (JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { engines: { node: string } }).engines.node;
    expect(engines).toBe(`>=${minimumNode.join('.')}`);
  });

  it('runs before anything else in the command line and the worker', () => {
    expect(firstImport('src/cli.ts')).toBe("import './node-version.js';");
    expect(firstImport('workers/metadata-worker.ts')).toBe("import '../src/node-version.js';");
  });

  it('prints one line and exits 1 when the version is too old', () => {
    // The check reads process.versions.node: a preload that reports an old version stands in for Node 20.
    const fake = "Object.defineProperty(process.versions, 'node', { value: '20.20.2' });";
    const run = spawnSync(process.execPath, ['--import', `data:text/javascript,${encodeURIComponent(fake)}`, '--import', 'tsx', path.join(root, 'src/cli.ts'), '--help'], {
      cwd: root,
      encoding: 'utf8',
    });
    expect(run.status).toBe(1);
    expect(run.stdout).toBe('');
    expect(run.stderr.trim().split('\n')).toEqual([
      'asset-metadata-worker needs Node.js 22.19 or later (this is 20.20.2): install a current LTS line.',
    ]);
  });
});
