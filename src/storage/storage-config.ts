/**
 * The operator's storage entries (CONTRACT.md §2). Secrets are never in the entry itself: it names the
 * environment variables that hold them, so a storages file can be reviewed and committed.
 */
import { z } from 'zod';

const id = z.string().min(1).max(128);
const envName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be an environment variable name');

export const S3StorageSchema = z.object({
  id,
  kind: z.literal('s3'),
  bucket: z.string().min(1),
  region: z.string().min(1).default('us-east-1'),
  endpoint: z.url().optional(),
  forcePathStyle: z.boolean().default(false),
  // Short on purpose: the URL is used at once and re-signed once if it expires mid-download.
  urlTtlSeconds: z.number().int().min(1).max(7 * 24 * 3600).default(300),
  accessKeyIdEnv: envName.optional(),
  secretAccessKeyEnv: envName.optional(),
  roleArn: z.string().min(20).optional(),
  externalId: z.string().min(2).optional(),
});

export const SignerStorageSchema = z.object({
  id,
  kind: z.literal('signer'),
  url: z.url({ protocol: /^https?$/ }),
  tokenEnv: envName.optional(),
  timeoutMs: z.number().int().positive().default(10_000),
});

export const StorageConfigSchema = z.discriminatedUnion('kind', [S3StorageSchema, SignerStorageSchema]);
export const StoragesSchema = z.array(StorageConfigSchema).superRefine((list, ctx) => {
  const seen = new Set<string>();
  list.forEach((s, i) => {
    if (seen.has(s.id)) ctx.addIssue({ code: 'custom', path: [i, 'id'], message: `duplicate storage id ${s.id}` });
    seen.add(s.id);
  });
});

export type S3StorageConfig = z.infer<typeof S3StorageSchema>;
export type SignerStorageConfig = z.infer<typeof SignerStorageSchema>;
export type StorageConfig = z.infer<typeof StorageConfigSchema>;

/** An entry with the secrets it names read from the environment (by config.ts, the only reader of env). */
export type ResolvedS3Storage = S3StorageConfig & { credentials?: { accessKeyId: string; secretAccessKey: string } };
export type ResolvedSignerStorage = SignerStorageConfig & { token?: string };
export type ResolvedStorage = ResolvedS3Storage | ResolvedSignerStorage;

/** Reads the secrets an entry names; returns the name of a variable that is missing, if any. */
export function resolveStorage(
  entry: StorageConfig,
  env: Record<string, string | undefined>,
): { storage: ResolvedStorage } | { missing: string } {
  if (entry.kind === 's3') {
    if (!entry.accessKeyIdEnv && !entry.secretAccessKeyEnv) return { storage: entry };
    for (const name of [entry.accessKeyIdEnv, entry.secretAccessKeyEnv]) {
      if (!name || !env[name]) return { missing: name ?? 'accessKeyIdEnv/secretAccessKeyEnv (both or neither)' };
    }
    return {
      storage: {
        ...entry,
        credentials: { accessKeyId: env[entry.accessKeyIdEnv!]!, secretAccessKey: env[entry.secretAccessKeyEnv!]! },
      },
    };
  }
  if (!entry.tokenEnv) return { storage: entry };
  const token = env[entry.tokenEnv];
  if (!token) return { missing: entry.tokenEnv };
  return { storage: { ...entry, token } };
}
