/**
 * Where downloads live for a moment (docs/contract.md §6): a directory per replica under TMP_DIR, random
 * file names (never from the key), mode 0600. Replicas remove the directories of dead ones (same host: by
 * pid; a shared volume: by a stopped heartbeat) as they start and every `siblingSweepMs`, so a replica
 * killed with SIGKILL leaves customer bytes for seconds only.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, stat, unlink, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

/** A replica whose heartbeat is older than this is dead, whatever host it ran on. */
export const staleReplicaMs = 5 * 60_000;
const heartbeatMs = 30_000;
/** How often a running replica looks for dead siblings' directories: a killed one's bytes last at most this. */
export const siblingSweepMs = 10_000;
const ownerFile = 'owner.json';

/** `sweepIntervalMs` replaces siblingSweepMs (tests); `onSwept` is told what each periodic sweep removed, if anything. */
export interface TempDirOptions {
  sweepIntervalMs?: number;
  onSwept?(removed: string[]): void;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export class TempDir {
  private readonly files = new Set<string>();
  private heartbeat?: NodeJS.Timeout;
  private sweeper?: NodeJS.Timeout;

  private constructor(readonly dir: string) {}

  /** Makes this replica's directory and sweeps what dead replicas left. */
  static async create(root: string, options: TempDirOptions = {}): Promise<TempDir> {
    await mkdir(root, { recursive: true, mode: 0o700 });
    const removed = await sweepDeadReplicas(root);
    const id = `${process.pid}-${randomBytes(6).toString('hex')}`;
    const dir = path.join(root, `replica-${id}`);
    // Made under another name and renamed with its owner file inside, so that a replica starting at the
    // same moment never sees a replica directory without an owner (and sweeps it as dead).
    const starting = path.join(root, `.starting-${id}`);
    await mkdir(starting, { mode: 0o700 });
    const owner = { host: os.hostname(), pid: process.pid, startedAt: new Date().toISOString() };
    await writeFile(path.join(starting, ownerFile), JSON.stringify(owner), { mode: 0o600 });
    await rename(starting, dir);
    const temp = new TempDir(dir);
    temp.sweptOnStart = removed;
    temp.heartbeat = setInterval(() => {
      const now = new Date();
      utimes(path.join(dir, ownerFile), now, now).catch(() => {});
    }, heartbeatMs).unref();
    temp.sweeper = sweepEvery(root, options.sweepIntervalMs ?? siblingSweepMs, options.onSwept);
    return temp;
  }

  /** Replica directories removed by `create`. */
  sweptOnStart: string[] = [];

  /** A fresh path for one download; the caller creates it with mode 0600 and flag 'wx'. */
  newFile(): string {
    // A v4 UUID: 122 random bits, from a buffer of randomness the process refills in batches.
    const file = path.join(this.dir, `${randomUUID()}.part`);
    this.files.add(file);
    return file;
  }

  /** Temp files that exist now (for the metrics). */
  get openCount(): number {
    return this.files.size;
  }

  /** A file another thread removed (the extraction thread, once it has read it). */
  forget(file: string): void {
    this.files.delete(file);
  }

  async remove(file: string): Promise<void> {
    try {
      await unlink(file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    } finally {
      this.files.delete(file);
    }
  }

  /** Removes this replica's directory with anything left in it. */
  async close(): Promise<void> {
    if (this.heartbeat) clearInterval(this.heartbeat);
    if (this.sweeper) clearInterval(this.sweeper);
    this.files.clear();
    await rm(this.dir, { recursive: true, force: true });
  }
}

/** The periodic sweep; one at a time (a slow disk must not pile them up), never throwing. */
function sweepEvery(root: string, intervalMs: number, onSwept?: (removed: string[]) => void): NodeJS.Timeout {
  let running = false;
  return setInterval(() => {
    if (running) return;
    running = true;
    sweepDeadReplicas(root)
      .then((removed) => void (removed.length && onSwept?.(removed)))
      .catch(() => {})
      .finally(() => (running = false));
  }, intervalMs).unref();
}

async function sweepDeadReplicas(root: string): Promise<string[]> {
  const removed: string[] = [];
  for (const name of await readdir(root).catch(() => [] as string[])) {
    const dir = path.join(root, name);
    if (!(await isDead(dir, name))) continue;
    await rm(dir, { recursive: true, force: true });
    removed.push(dir);
  }
  return removed;
}

const isStale = (mtimeMs: number) => Date.now() - mtimeMs > staleReplicaMs;

async function isDead(dir: string, name: string): Promise<boolean> {
  // A replica that died between making its directory and naming it: only once it is surely not starting.
  if (name.startsWith('.starting-')) return isStale((await stat(dir).catch(() => undefined))?.mtimeMs ?? Date.now());
  if (!name.startsWith('replica-')) return false;
  try {
    const ownerPath = path.join(dir, ownerFile);
    const [raw, st] = await Promise.all([readFile(ownerPath, 'utf8'), stat(ownerPath)]);
    const owner = JSON.parse(raw) as { host: string; pid: number };
    return isStale(st.mtimeMs) || (owner.host === os.hostname() && !isAlive(owner.pid));
  } catch {
    // No readable owner file: a replica that died while creating it, or something else's leftovers in our
    // own namespace; either way nothing alive owns it.
    return true;
  }
}
