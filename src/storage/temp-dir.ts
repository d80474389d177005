/**
 * Where downloads live for a moment (CONTRACT.md §6). Each replica owns a directory under TMP_DIR with
 * random file names the worker makes (never from the key), mode 0600. A starting replica removes the
 * directories of replicas that died: on the same host by their pid, elsewhere (a shared volume) by a
 * heartbeat that stopped.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, stat, unlink, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

/** A replica whose heartbeat is older than this is dead, whatever host it ran on. */
export const staleReplicaMs = 5 * 60_000;
const heartbeatMs = 30_000;
const ownerFile = 'owner.json';

interface Owner {
  host: string;
  pid: number;
  startedAt: string;
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

  private constructor(readonly dir: string) {}

  /** Makes this replica's directory and sweeps what dead replicas left. */
  static async create(root: string): Promise<TempDir> {
    await mkdir(root, { recursive: true, mode: 0o700 });
    const removed = await sweepDeadReplicas(root);
    const id = `${process.pid}-${randomBytes(6).toString('hex')}`;
    const dir = path.join(root, `replica-${id}`);
    // Made under another name and renamed with its owner file inside, so that a replica starting at the
    // same moment never sees a replica directory without an owner (and sweeps it as dead).
    const starting = path.join(root, `.starting-${id}`);
    await mkdir(starting, { mode: 0o700 });
    const owner: Owner = { host: os.hostname(), pid: process.pid, startedAt: new Date().toISOString() };
    await writeFile(path.join(starting, ownerFile), JSON.stringify(owner), { mode: 0o600 });
    await rename(starting, dir);
    const temp = new TempDir(dir);
    temp.sweptOnStart = removed;
    temp.heartbeat = setInterval(() => {
      const now = new Date();
      utimes(path.join(dir, ownerFile), now, now).catch(() => {});
    }, heartbeatMs).unref();
    return temp;
  }

  /** Replica directories removed by `create`. */
  sweptOnStart: string[] = [];

  /** A fresh path for one download; the caller creates it with mode 0600 and flag 'wx'. */
  newFile(): string {
    const file = path.join(this.dir, `${randomBytes(16).toString('hex')}.part`);
    this.files.add(file);
    return file;
  }

  /** Temp files that exist now (for the metrics). */
  get openCount(): number {
    return this.files.size;
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
    this.files.clear();
    await rm(this.dir, { recursive: true, force: true });
  }
}

async function sweepDeadReplicas(root: string): Promise<string[]> {
  const removed: string[] = [];
  for (const name of await readdir(root).catch(() => [] as string[])) {
    const dir = path.join(root, name);
    if (name.startsWith('.starting-')) {
      // A replica that died between making its directory and naming it: only once it is surely not starting.
      const st = await stat(dir).catch(() => undefined);
      if (st && Date.now() - st.mtimeMs > staleReplicaMs) {
        await rm(dir, { recursive: true, force: true });
        removed.push(dir);
      }
      continue;
    }
    if (!name.startsWith('replica-')) continue;
    try {
      const ownerPath = path.join(dir, ownerFile);
      const [raw, st] = await Promise.all([readFile(ownerPath, 'utf8'), stat(ownerPath)]);
      const owner = JSON.parse(raw) as Owner;
      const stale = Date.now() - st.mtimeMs > staleReplicaMs;
      const deadHere = owner.host === os.hostname() && !isAlive(owner.pid);
      if (!stale && !deadHere) continue;
    } catch {
      // No readable owner file: a replica that died while creating it, or something else's leftovers
      // in our own namespace; either way nothing alive owns it.
    }
    await rm(dir, { recursive: true, force: true });
    removed.push(dir);
  }
  return removed;
}
