/**
 * Temp files: random names, mode 0600, one directory per replica, and the sweep a starting replica does
 * of what dead replicas left (by pid on this host, by heartbeat anywhere).
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { siblingSweepMs, staleReplicaMs, TempDir } from '../../src/storage/temp-dir.js';
import { freshTempDir } from '../helpers/services.js';

const tmp = freshTempDir();
afterAll(() => tmp.remove());

/** A pid that certainly belonged to a process that has ended. */
function deadPid(): number {
  const child = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  return Number(child.stdout);
}

function fakeReplica(root: string, name: string, owner: object | string | undefined, ageMs = 0): string {
  const dir = path.join(root, name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'left-behind.part'), 'bytes of a download');
  if (owner !== undefined) {
    const file = path.join(dir, 'owner.json');
    writeFileSync(file, typeof owner === 'string' ? owner : JSON.stringify(owner));
    const when = new Date(Date.now() - ageMs);
    utimesSync(file, when, when);
  }
  return dir;
}

describe('TempDir', () => {
  it('gives each replica its own 0700 directory with random file names', async () => {
    const root = path.join(tmp.dir, 'own');
    const [a, b] = await Promise.all([TempDir.create(root), TempDir.create(root)]);
    try {
      expect(a.dir).not.toBe(b.dir);
      expect(path.basename(a.dir)).toMatch(new RegExp(`^replica-${process.pid}-[0-9a-f]{12}$`));
      expect(statSync(a.dir).mode & 0o777).toBe(0o700);
      const names = new Set(Array.from({ length: 1000 }, () => path.basename(a.newFile())));
      expect(names.size).toBe(1000);
      for (const n of names) expect(n).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}\.part$/);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
    expect(readdirSync(root)).toEqual([]);
  });

  it('remove() deletes a file and forgets it; a file already gone is fine', async () => {
    const temp = await TempDir.create(path.join(tmp.dir, 'remove'));
    const file = temp.newFile();
    writeFileSync(file, 'x', { flag: 'wx', mode: 0o600 });
    expect(temp.openCount).toBe(1);
    await temp.remove(file);
    await temp.remove(file);
    expect(temp.openCount).toBe(0);
    expect(readdirSync(temp.dir)).toEqual(['owner.json']);
    await temp.close();
  });

  it('a starting replica removes dead replicas’ directories and keeps live ones', async () => {
    const root = path.join(tmp.dir, 'sweep');
    const host = os.hostname();
    const dead = fakeReplica(root, 'replica-dead', { host, pid: deadPid(), startedAt: new Date().toISOString() });
    const live = fakeReplica(root, 'replica-live', { host, pid: process.pid, startedAt: new Date().toISOString() });
    // Another host's replica: its pid means nothing here; only its heartbeat tells.
    const elsewhereFresh = fakeReplica(root, 'replica-elsewhere-fresh', { host: `${host}-other`, pid: 1, startedAt: '' });
    const elsewhereStale = fakeReplica(root, 'replica-elsewhere-stale', { host: `${host}-other`, pid: 1, startedAt: '' }, staleReplicaMs + 60_000);
    // A live pid whose heartbeat stopped long ago (a hung replica on a shared volume, or a reused pid).
    const liveButStale = fakeReplica(root, 'replica-live-stale', { host, pid: process.pid, startedAt: '' }, staleReplicaMs + 60_000);
    const noOwner = fakeReplica(root, 'replica-no-owner', undefined);
    const garbledOwner = fakeReplica(root, 'replica-garbled', '{not json');
    const notOurs = path.join(root, 'something-else');
    mkdirSync(notOurs);

    const temp = await TempDir.create(root);
    try {
      expect(temp.sweptOnStart.sort()).toEqual([dead, elsewhereStale, liveButStale, noOwner, garbledOwner].sort());
      expect(readdirSync(root).sort()).toEqual(
        [path.basename(live), path.basename(elsewhereFresh), 'something-else', path.basename(temp.dir)].sort(),
      );
    } finally {
      await temp.close();
    }
  });

  it('a running replica removes a sibling that dies after it started, at its next periodic sweep', async () => {
    const root = path.join(tmp.dir, 'periodic');
    const swept: string[][] = [];
    const temp = await TempDir.create(root, { sweepIntervalMs: 100, onSwept: (removed) => swept.push(removed) });
    try {
      const host = os.hostname();
      // Made after the start-up sweep: only the periodic one can remove it.
      const dead = fakeReplica(root, 'replica-died-later', { host, pid: deadPid(), startedAt: new Date().toISOString() });
      const live = fakeReplica(root, 'replica-alive', { host, pid: process.pid, startedAt: new Date().toISOString() });
      await expect.poll(() => readdirSync(root).sort(), { timeout: 5_000, interval: 50 }).toEqual([path.basename(live), path.basename(temp.dir)].sort());
      expect(swept).toEqual([[dead]]);
    } finally {
      await temp.close();
    }
    // The default period keeps a killed replica's bytes on disk well under a minute.
    expect(siblingSweepMs).toBeLessThanOrEqual(30_000);
  });

  it('names its owner (host, pid) in a 0600 file that the sweep of other replicas reads', async () => {
    const temp = await TempDir.create(path.join(tmp.dir, 'owner'));
    try {
      const ownerFile = path.join(temp.dir, 'owner.json');
      expect(JSON.parse(readFileSync(ownerFile, 'utf8'))).toMatchObject({ host: os.hostname(), pid: process.pid });
      expect(statSync(ownerFile).mode & 0o777).toBe(0o600);
    } finally {
      await temp.close();
    }
  });
});
