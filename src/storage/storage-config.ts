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
