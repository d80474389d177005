/**
 * Docker does not run on the development machines: these checks read the Dockerfile and the compose file
 * the way `docker build` and `docker compose` would, and hold them to the configuration schema.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { EnvSchema, loadConfig } from '../../src/config.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

interface Service {
  image?: string;
  ports?: string[];
  build?: unknown;
  command?: string[] | string;
  environment?: Record<string, string>;
  healthcheck?: { test: string[] };
  deploy?: { replicas?: number };
  depends_on?: Record<string, { condition: string }>;
}
const compose = parse(readFileSync(path.join(root, 'docker-compose.yml'), 'utf8'), { merge: true }) as { services: Record<string, Service> };
const dockerfile = readFileSync(path.join(root, 'Dockerfile'), 'utf8');
// Continuation lines joined, comments dropped: one instruction a line.
const instructions = dockerfile
  .replace(/\\\n/g, ' ')
  .split('\n')
  .map((l) => l.trim())
  .filter((l) => l && !l.startsWith('#'));

describe('docker-compose.yml', () => {
  const s = compose.services;

  it('has Redis, PostgreSQL, MinIO with its bucket, and two worker replicas', () => {
    expect(Object.keys(s).sort()).toEqual(['minio', 'minio-init', 'postgres', 'redis', 'worker']);
    expect(s.worker!.deploy?.replicas).toBe(2);
    expect(String(s['minio-init']!.command)).toContain('mb --ignore-existing local/assets');
  });

  it('runs Redis as BullMQ asks: AOF on, noeviction', () => {
    const cmd = (s.redis!.command as string[]).join(' ');
    expect(cmd).toContain('--appendonly yes');
    expect(cmd).toContain('--maxmemory-policy noeviction');
  });

  it('gives every long-running service a healthcheck and starts the worker after them', () => {
    for (const name of ['redis', 'postgres', 'minio', 'worker']) expect(s[name]!.healthcheck?.test.length).toBeGreaterThan(0);
    expect(s.worker!.depends_on).toEqual({
      redis: { condition: 'service_healthy' },
      postgres: { condition: 'service_healthy' },
      'minio-init': { condition: 'service_completed_successfully' },
    });
  });

  it("sets only variables the worker reads, and a configuration the worker accepts", () => {
    const env = s.worker!.environment!;
    const storages = JSON.parse(env.STORAGES!) as { accessKeyIdEnv?: string; secretAccessKeyEnv?: string }[];
    const named = new Set(storages.flatMap((e) => [e.accessKeyIdEnv, e.secretAccessKeyEnv]).filter(Boolean));
    for (const key of Object.keys(env)) {
      expect(key in EnvSchema.shape || named.has(key), `${key} is neither a config variable nor a secret a storage names`).toBe(true);
    }
    const config = loadConfig(env);
    expect(config.storages.map((x) => [x.id, x.kind])).toEqual([['main', 's3']]);
    expect(config.redis.url).toBe('redis://redis:6379');
  });
});

describe('published ports', () => {
  it('are bound to loopback only, on every service (MinIO runs with default credentials)', () => {
    const published = Object.entries(compose.services).flatMap(([name, svc]) => (svc.ports ?? []).map((p) => [name, p] as const));
    expect(published.map(([name]) => name).sort()).toEqual(['minio', 'minio', 'worker']);
    for (const [name, port] of published) expect(port, name).toMatch(/^127\.0\.0\.1:/);
  });
});

describe('Dockerfile', () => {
  it('builds in one stage and runs from a slim base in another', () => {
    const froms = instructions.filter((l) => l.startsWith('FROM '));
    expect(froms).toHaveLength(2);
    // The Active LTS line; package.json's engines must accept it.
    for (const f of froms) expect(f).toMatch(/^FROM node:26-trixie-slim\b/);
    expect(JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')).engines.node).toBe('>=22.19');
  });

  it('ships production dependencies only and one ffprobe', () => {
    expect(dockerfile).toContain('npm prune --omit=dev');
    expect(dockerfile).toContain('node_modules/@ffprobe-installer/$(node -p "process.platform + \'-\' + process.arch")/ffprobe');
  });

  it('builds on linux/amd64 and linux/arm64: the lock holds an ffprobe package for each, chosen by os and cpu', () => {
    const lock = JSON.parse(readFileSync(path.join(root, 'package-lock.json'), 'utf8')) as {
      packages: Record<string, { os?: string[]; cpu?: string[]; optional?: boolean }>;
    };
    for (const arch of ['x64', 'arm64']) {
      const entry = lock.packages[`node_modules/@ffprobe-installer/linux-${arch}`];
      expect(entry, arch).toMatchObject({ os: ['linux'], cpu: [arch], optional: true });
    }
  });

  it('runs as a non-root user with a healthcheck, and starts the worker entry point that the build makes', () => {
    const user = instructions.filter((l) => l.startsWith('USER ')).at(-1);
    expect(user).toBe('USER node');
    expect(instructions.some((l) => l.startsWith('HEALTHCHECK ') && l.includes('/healthz'))).toBe(true);
    const cmd = instructions.filter((l) => l.startsWith('CMD ')).at(-1)!;
    const entry = (JSON.parse(cmd.slice(4)) as string[])[1]!;
    expect(entry).toBe('dist/workers/metadata-worker.js');
    // The build (npm ci → prepare → tsc) makes that file from workers/metadata-worker.ts.
    expect(existsSync(path.join(root, 'workers/metadata-worker.ts'))).toBe(true);
    expect(JSON.parse(readFileSync(path.join(root, 'tsconfig.json'), 'utf8')).compilerOptions.outDir).toBe('dist');
  });

  it('copies only what exists in the repository', () => {
    for (const l of instructions.filter((x) => x.startsWith('COPY ') && !x.includes('--from'))) {
      const parts = l.split(/\s+/).slice(1, -1);
      for (const p of parts) expect(existsSync(path.join(root, p)), p).toBe(true);
    }
  });
});
