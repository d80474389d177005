/**
 * The only module that reads `process.env`. It validates once at start and hands each part its own typed
 * slice. docs/contract.md §7 names the variables; the README's configuration table restates them.
 */
import os from 'node:os';
import path from 'node:path';
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { StorageSecretError, StoragesSchema, resolveStorage, type ResolvedStorage } from './storage/storage-config.js';
import { parseAllowedHost } from './storage/url-guard.js';

const MiB = 1024 * 1024;

/** RANGED_READ_MIN_BYTES when unset: 16 MiB: below it one more request costs more than the bytes it saves (docs/performance.md). */
export const defaultRangedReadMinBytes = 16 * MiB;

const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no', ''])
  .transform((v) => v === 'true' || v === '1' || v === 'yes');
const int = (min: number) => z.coerce.number().int().min(min);
const list = z
  .string()
  .transform((v) => v.split(',').map((s) => s.trim()).filter(Boolean));

export const EnvSchema = z.object({
  REDIS_URL: z.string().regex(/^rediss?:\/\//, 'must start with redis:// or rediss://').default('redis://127.0.0.1:6379'),
  QUEUE_NAME: z.string().min(1).default('asset-metadata'),
  QUEUE_PREFIX: z.string().min(1).default('bull'),
  // Extraction is mostly I/O (download) and child processes (ffprobe): a few jobs per core keep it busy.
  WORKER_CONCURRENCY: int(1).max(256).default(4),
  // BullMQ's default attempts for jobs the backend enqueues with our helper; the worker honours the job's own.
  JOB_ATTEMPTS: int(1).max(100).default(5),
  // How long a replica holds a job without renewing its lock; a replica that died is noticed after about
  // this plus STALLED_INTERVAL_MS, and its job is taken by another (BullMQ's stalled-job check).
  JOB_LOCK_DURATION_MS: int(1_000).default(30_000),
  STALLED_INTERVAL_MS: int(1_000).default(30_000),
  DATABASE_URL: z.string().regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL').default('postgres://127.0.0.1:5432/test'),
  // Schema of the postgres sink's table; tests use one per file.
  DATABASE_SCHEMA: z.string().regex(/^[a-z_][a-z0-9_]*$/, 'must be a plain lower-case SQL identifier').default('public'),
  RESULT_SINKS: list.pipe(z.array(z.enum(['postgres', 'webhook']))).default(['postgres']),
  WEBHOOK_URL: z.url().optional(),
  WEBHOOK_SECRET: z.string().min(16, 'must be at least 16 characters').optional(),
  // One webhook POST may take this long (connect to the last byte of the answer) before the delivery counts
  // as failed and the job is delayed and retried; a receiver slower than that holds a job slot for nothing.
  WEBHOOK_TIMEOUT_MS: int(1).default(10_000),
  STORAGES: z.string().optional(),
  STORAGES_FILE: z.string().optional(),
  TMP_DIR: z.string().min(1).default(path.join(os.tmpdir(), 'asset-metadata')),
  MAX_ASSET_BYTES: int(1).default(5 * 1024 * MiB),
  DOWNLOAD_TIMEOUT_MS: int(1).default(600_000),
  // A download that receives no byte for this long is abandoned (DOWNLOAD_TIMEOUT), well before the total.
  DOWNLOAD_STALL_TIMEOUT_MS: int(1).default(30_000),
  // Objects over this size are read by HTTP ranges where the format allows (src/storage/ranged/): below it
  // a whole download costs about as much as the few round trips a plan needs. 0 reads every object by ranges.
  RANGED_READ_MIN_BYTES: int(0).default(defaultRangedReadMinBytes),
  EXTRACT_TIMEOUT_MS: int(1).default(60_000),
  // V8 heap of one extraction thread; native buffers (sharp, ffprobe's process) are bounded separately.
  EXTRACT_MAX_HEAP_MB: int(16).default(256),
  PDF_MAX_PAGE_SIZES: int(0).default(10_000),
  DICOM_INCLUDE_PHI: bool.default(false),
  FFPROBE_PATH: z.string().min(1).optional(),
  // `host` allows every port of it, `host:port` (`[v6]:port`) that port only (url-guard.ts).
  URL_ALLOWED_HOSTS: list
    .refine((entries) => entries.every((e) => parseAllowedHost(e)), 'each entry must be host or host:port (port 1-65535), no scheme or path')
    .default([]),
  HEALTH_PORT: int(0).max(65535).default(9464),
  // Address the health/metrics server binds: all interfaces, so that probes and Prometheus reach the pod or
  // container; set 127.0.0.1 where only a local agent scrapes.
  HEALTH_HOST: z.string().min(1).default('0.0.0.0'),
  // bull-board and the latest results under /dashboard on HEALTH_PORT. Off by default: the pages show asset
  // ids and error messages and have no login of their own, so an operator turns them on behind their own auth.
  DASHBOARD_ENABLED: bool.default(false),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

export type Env = z.infer<typeof EnvSchema>;

export interface Config {
  redis: { url: string };
  queue: { name: string; prefix: string; concurrency: number; attempts: number; lockDurationMs: number; stalledIntervalMs: number };
  postgres: { url: string; schema: string };
  sinks: Env['RESULT_SINKS'];
  webhook?: { url: string; secret: string; timeoutMs: number };
  storages: ResolvedStorage[];
  download: { tmpDir: string; maxAssetBytes: number; timeoutMs: number; stallTimeoutMs: number; allowedHosts: string[]; rangedReadMinBytes: number };
  extract: ExtractConfig;
  healthPort: number;
  healthHost: string;
  dashboardEnabled: boolean;
  logLevel: Env['LOG_LEVEL'];
}

/** The slice the extractors get: plain data, so that it can cross into an extraction thread. */
export interface ExtractConfig {
  timeoutMs: number;
  maxHeapMb: number;
  pdfMaxPageSizes: number;
  dicomIncludePhi: boolean;
  ffprobePath?: string;
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** A ConfigError listing one problem a line, each starting with the variable at fault. */
const invalid = (problems: string[]) => new ConfigError(`invalid configuration:\n${problems.map((p) => `  ${p}`).join('\n')}`);

/** Reads and validates the environment; throws ConfigError naming every bad variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = EnvSchema.safeParse(env);
  if (!parsed.success) throw invalid(parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`));
  const e = parsed.data;
  if (e.RESULT_SINKS.includes('webhook') && (!e.WEBHOOK_URL || !e.WEBHOOK_SECRET)) {
    throw invalid(['WEBHOOK_URL, WEBHOOK_SECRET: required when RESULT_SINKS has webhook']);
  }
  return {
    redis: { url: e.REDIS_URL },
    queue: {
      name: e.QUEUE_NAME,
      prefix: e.QUEUE_PREFIX,
      concurrency: e.WORKER_CONCURRENCY,
      attempts: e.JOB_ATTEMPTS,
      lockDurationMs: e.JOB_LOCK_DURATION_MS,
      stalledIntervalMs: e.STALLED_INTERVAL_MS,
    },
    postgres: { url: withDefaultUser(e.DATABASE_URL), schema: e.DATABASE_SCHEMA },
    sinks: e.RESULT_SINKS,
    ...(e.WEBHOOK_URL && e.WEBHOOK_SECRET ? { webhook: { url: e.WEBHOOK_URL, secret: e.WEBHOOK_SECRET, timeoutMs: e.WEBHOOK_TIMEOUT_MS } } : {}),
    storages: readStorages(e, env),
    download: {
      tmpDir: e.TMP_DIR,
      maxAssetBytes: e.MAX_ASSET_BYTES,
      timeoutMs: e.DOWNLOAD_TIMEOUT_MS,
      stallTimeoutMs: e.DOWNLOAD_STALL_TIMEOUT_MS,
      rangedReadMinBytes: e.RANGED_READ_MIN_BYTES,
      allowedHosts: e.URL_ALLOWED_HOSTS,
    },
    extract: {
      timeoutMs: e.EXTRACT_TIMEOUT_MS,
      maxHeapMb: e.EXTRACT_MAX_HEAP_MB,
      pdfMaxPageSizes: e.PDF_MAX_PAGE_SIZES,
      dicomIncludePhi: e.DICOM_INCLUDE_PHI,
      ...(e.FFPROBE_PATH ? { ffprobePath: e.FFPROBE_PATH } : {}),
    },
    healthPort: e.HEALTH_PORT,
    healthHost: e.HEALTH_HOST,
    dashboardEnabled: e.DASHBOARD_ENABLED,
    logLevel: e.LOG_LEVEL,
  };
}

function readStorages(e: Env, env: NodeJS.ProcessEnv): ResolvedStorage[] {
  let raw: string | undefined = e.STORAGES;
  let source = 'STORAGES';
  if (!raw && e.STORAGES_FILE) {
    source = 'STORAGES_FILE';
    try {
      raw = readFileSync(e.STORAGES_FILE, 'utf8');
    } catch (err) {
      throw invalid([`STORAGES_FILE: cannot read ${e.STORAGES_FILE}: ${(err as Error).message}`]);
    }
  }
  if (!raw) return [];
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch (err) {
    throw invalid([`${source}: not JSON: ${(err as Error).message}`]);
  }
  const parsed = StoragesSchema.safeParse(json);
  if (!parsed.success) throw invalid(parsed.error.issues.map((i) => `${source}[${i.path.join('.')}]: ${i.message}`));
  return parsed.data.map((entry) => {
    let resolved: ReturnType<typeof resolveStorage>;
    try {
      resolved = resolveStorage(entry, env);
    } catch (err) {
      // A secret that is set but unusable (a key file that is not a key): the message names the variable.
      throw err instanceof StorageSecretError ? invalid([err.message]) : err;
    }
    if ('missing' in resolved) throw invalid([`${resolved.missing}: not set, named by storage "${entry.id}"`]);
    return resolved.storage;
  });
}

/**
 * libpq connects as the operating-system user when a URL names none; node-postgres looks only at $USER,
 * which containers and CI often leave unset. Do what libpq does.
 */
function withDefaultUser(url: string): string {
  const u = new URL(url);
  if (u.username) return url;
  try {
    u.username = os.userInfo().username;
    return u.href;
  } catch {
    return url;
  }
}
