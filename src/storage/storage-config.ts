/**
 * The operator's storage entries (docs/contract.md §2). Secrets are never in the entry itself: it names the
 * environment variables that hold them, so a storages file can be reviewed and committed.
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';

const id = z.string().min(1).max(128);
const envName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be an environment variable name');
const sevenDaysSeconds = 7 * 24 * 3600;
// Short on purpose: the URL is used at once and re-signed once if it expires mid-download. Seven days is
// the longest S3 presigned URLs, GCS V4 URLs and user delegation SAS allow.
const urlTtlSeconds = z.number().int().min(1).max(sevenDaysSeconds).default(300);

export const S3StorageSchema = z
  .object({
    id,
    kind: z.literal('s3'),
    bucket: z.string().min(1),
    region: z.string().min(1).default('us-east-1'),
    endpoint: z.url().optional(),
    forcePathStyle: z.boolean().default(false),
    urlTtlSeconds,
    accessKeyIdEnv: envName.optional(),
    secretAccessKeyEnv: envName.optional(),
    /** Delegated access: the customer's role, assumed through STS (s3.ts). */
    roleArn: z.string().regex(/^arn:[\w-]+:iam::\d{12}:role\/[\w+=,.@/-]+$/, 'must be an IAM role ARN').optional(),
    /** The customer's shared secret against the confused-deputy problem; AWS allows 2..1224 characters. */
    externalId: z.string().regex(/^[\w+=,.@:/-]{2,1224}$/, 'must be 2..1224 characters of [A-Za-z0-9+=,.@:/_-]').optional(),
    /** Shows in the customer's CloudTrail as the session that read their objects; default in s3.ts. */
    roleSessionName: z.string().regex(/^[\w+=,.@-]{2,64}$/).optional(),
    /** Lifetime of the temporary credentials (STS allows 900..43200, capped by the role's maximum). */
    roleDurationSeconds: z.number().int().min(900).max(43_200).optional(),
    /** Another STS endpoint (a VPC endpoint, a partition's, a test's); default: the region's. */
    stsEndpoint: z.url().optional(),
  })
  .refine((s) => !s.externalId || s.roleArn, { message: 'externalId needs roleArn', path: ['externalId'] });

export const AzureStorageSchema = z.object({
  id,
  kind: z.literal('azure'),
  // Azure's naming rules: https://learn.microsoft.com/azure/storage/common/storage-account-overview#storage-account-name
  account: z.string().regex(/^[a-z0-9]{3,24}$/, 'must be 3..24 lower-case letters and digits'),
  container: z.string().regex(/^[a-z0-9](?!.*--)[a-z0-9-]{1,61}[a-z0-9]$|^\$root$/, 'must be a valid container name'),
  /** Default `https://<account>.blob.core.windows.net`; Azurite: `http://127.0.0.1:10000/<account>`. */
  endpoint: z.url({ protocol: /^https?$/ }).optional(),
  /** Without it: a user delegation key from an Entra ID credential (DefaultAzureCredential). */
  accountKeyEnv: envName.optional(),
  urlTtlSeconds,
});

export const GcsStorageSchema = z
  .object({
    id,
    kind: z.literal('gcs'),
    bucket: z.string().min(3).max(222),
    /** Names a variable holding the path of a service account key file (JSON). */
    credentialsFileEnv: envName.optional(),
    /** Names a variable holding the service account key itself (JSON). */
    credentialsJsonEnv: envName.optional(),
    urlTtlSeconds,
    /** Another XML API endpoint (tests); default https://storage.googleapis.com. */
    endpoint: z.url({ protocol: /^https?$/ }).optional(),
  })
  .refine((s) => Boolean(s.credentialsFileEnv) !== Boolean(s.credentialsJsonEnv), {
    message: 'give exactly one of credentialsFileEnv and credentialsJsonEnv',
    path: ['credentialsFileEnv'],
  });

export const SignerStorageSchema = z.object({
  id,
  kind: z.literal('signer'),
  url: z.url({ protocol: /^https?$/ }),
  tokenEnv: envName.optional(),
  timeoutMs: z.number().int().positive().default(10_000),
});

export const StorageConfigSchema = z.discriminatedUnion('kind', [S3StorageSchema, AzureStorageSchema, GcsStorageSchema, SignerStorageSchema]);
export const StoragesSchema = z.array(StorageConfigSchema).superRefine((list, ctx) => {
  const seen = new Set<string>();
  list.forEach((s, i) => {
    if (seen.has(s.id)) ctx.addIssue({ code: 'custom', path: [i, 'id'], message: `duplicate storage id ${s.id}` });
    seen.add(s.id);
  });
});

export type StorageConfig = z.infer<typeof StorageConfigSchema>;

/** An entry with the secrets it names read from the environment (by config.ts, the only reader of env). */
export type ResolvedS3Storage = z.infer<typeof S3StorageSchema> & { credentials?: { accessKeyId: string; secretAccessKey: string } };
export type ResolvedAzureStorage = z.infer<typeof AzureStorageSchema> & { accountKey?: string };
export type ResolvedGcsStorage = z.infer<typeof GcsStorageSchema> & { serviceAccount: ServiceAccountKey };
export type ResolvedSignerStorage = z.infer<typeof SignerStorageSchema> & { token?: string };
export type ResolvedStorage = ResolvedS3Storage | ResolvedAzureStorage | ResolvedGcsStorage | ResolvedSignerStorage;

/** A secret that is set but unusable; the message names the variable and the storage, never the secret. */
export class StorageSecretError extends Error {
  override readonly name = 'StorageSecretError';
}

/** Reads the secrets an entry names, or says which variable is missing; throws StorageSecretError for an unusable one. */
export function resolveStorage(entry: StorageConfig, env: Record<string, string | undefined>): { storage: ResolvedStorage } | { missing: string } {
  switch (entry.kind) {
    case 's3': {
      if (!entry.accessKeyIdEnv && !entry.secretAccessKeyEnv) return { storage: entry };
      for (const name of [entry.accessKeyIdEnv, entry.secretAccessKeyEnv]) {
        if (!name || !env[name]) return { missing: name ?? 'accessKeyIdEnv/secretAccessKeyEnv (both or neither)' };
      }
      return { storage: { ...entry, credentials: { accessKeyId: env[entry.accessKeyIdEnv!]!, secretAccessKey: env[entry.secretAccessKeyEnv!]! } } };
    }
    case 'azure': {
      if (!entry.accountKeyEnv) return { storage: entry };
      const accountKey = env[entry.accountKeyEnv];
      return accountKey ? { storage: { ...entry, accountKey } } : { missing: entry.accountKeyEnv };
    }
    case 'gcs': {
      const name = (entry.credentialsFileEnv ?? entry.credentialsJsonEnv)!;
      const value = env[name];
      if (!value) return { missing: name };
      const json = entry.credentialsFileEnv ? readKeyFile(entry.id, name, value) : value;
      return { storage: { ...entry, serviceAccount: parseServiceAccount(entry.id, name, json) } };
    }
    case 'signer': {
      if (!entry.tokenEnv) return { storage: entry };
      const token = env[entry.tokenEnv];
      return token ? { storage: { ...entry, token } } : { missing: entry.tokenEnv };
    }
  }
}

function readKeyFile(storageId: string, variable: string, path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    throw new StorageSecretError(`${variable}: cannot read the key file it names (${code}), for storage "${storageId}"`);
  }
}

/** The fields of a service account key that V4 signing needs. */
const ServiceAccountSchema = z.object({
  client_email: z.string().includes('@'),
  private_key: z.string().includes('PRIVATE KEY'),
  project_id: z.string().optional().catch(undefined),
});
export type ServiceAccountKey = z.infer<typeof ServiceAccountSchema>;

/** Never quotes the input: JSON.parse's and zod's messages show pieces of it, which here is a private key. */
function parseServiceAccount(storageId: string, variable: string, json: string): ServiceAccountKey {
  const bad = (what: string) =>
    new StorageSecretError(`${variable}: ${what}, for storage "${storageId}" (expected a service account key JSON)`);
  let key: unknown;
  try {
    key = JSON.parse(json);
  } catch {
    throw bad('not JSON');
  }
  const parsed = ServiceAccountSchema.safeParse(key);
  if (!parsed.success) throw bad(`no ${String(parsed.error.issues[0]?.path[0] ?? 'client_email')}`);
  return parsed.data;
}
