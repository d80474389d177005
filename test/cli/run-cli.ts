/**
 * Runs asset-meta as a user does: a child process from the sources, with the environment given and
 * nothing else of this process's (no stray REDIS_URL or STORAGES).
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
  /** Set when the process had to be killed at `timeoutMs`. */
  killed: boolean;
}

const baseEnv = () => ({ PATH: process.env.PATH ?? '', NO_COLOR: '1' });

export function cli(args: string[], env: Record<string, string> = {}, timeoutMs = 30_000, entry = 'src/cli.ts'): Promise<CliRun> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', entry, ...args],
      { cwd: root, env: { ...baseEnv(), ...env }, timeout: timeoutMs, killSignal: 'SIGKILL' },
      (err, stdout, stderr) => {
        const e = err as (Error & { code?: number | string; killed?: boolean }) | null;
        resolve({ code: e ? (typeof e.code === 'number' ? e.code : null) : 0, stdout, stderr, killed: e?.killed === true });
      },
    );
  });
}

/** A long-running command (or a script of the checkout, `entry`); the caller stops it. */
export function spawnCli(args: string[], env: Record<string, string> = {}, entry = 'src/cli.ts'): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', entry, ...args], { cwd: root, env: { ...baseEnv(), ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
}
