/**
 * Real services for tests, isolated per test file so that two runs of the suite can share a machine:
 * a fresh queue name, PostgreSQL schema and temp directory each, all removed at the end.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import pg from 'pg';

export const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
export const databaseUrl = process.env.DATABASE_URL ?? `postgres://${os.userInfo().username}@127.0.0.1:5432/test`;

export const uniqueName = (prefix: string) => `${prefix}_${Date.now().toString(36)}_${randomBytes(4).toString('hex')}`;

export function freshTempDir(): { dir: string; files(): string[]; remove(): void } {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'asset-meta-test-'));
  return {
    dir,
    /** Every file under dir except replicas' owner files: what a job may have left behind. */
    files: () =>
      (readdirSync(dir, { recursive: true, withFileTypes: true }) as import('node:fs').Dirent[])
        .filter((e) => e.isFile() && e.name !== 'owner.json')
        .map((e) => path.join(e.parentPath, e.name)),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

export async function dropSchema(schema: string): Promise<void> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    await client.query(`DROP SCHEMA IF EXISTS ${pg.escapeIdentifier(schema)} CASCADE`);
  } finally {
    await client.end();
  }
}

export async function queryRows<T = Record<string, unknown>>(sql: string, params: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    return (await client.query(sql, params)).rows as T[];
  } finally {
    await client.end();
  }
}

/**
 * A TCP proxy in front of a real server: `cut()` drops every connection and refuses new ones, as a
 * stopped server would; `restore()` lets them through again. Lets one test file take PostgreSQL "down"
 * without stopping the server other test files use.
 */
export async function startTcpProxy(target: { host: string; port: number }) {
  let up = true;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    if (!up) return client.destroy();
    const upstream = net.connect(target);
    sockets.add(client).add(upstream);
    const drop = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    cut() {
      up = false;
      for (const s of sockets) s.destroy();
      sockets.clear();
    },
    restore() {
      up = true;
    },
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

/** A queue of the test's own name on the real Redis, as a backend would hold it. */
export function openQueue(queueName: string): { connection: Redis; queue: Queue } {
  const connection = new Redis(redisUrl, { maxRetriesPerRequest: null });
  return { connection, queue: new Queue(queueName, { connection }) };
}

/** Removes the test's queue from Redis and closes it (safe when opening failed half-way). */
export async function closeQueue(queue?: Queue, connection?: Redis): Promise<void> {
  await queue?.obliterate({ force: true }).catch(() => {});
  await queue?.close();
  await connection?.quit();
}
