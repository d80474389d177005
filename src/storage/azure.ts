/**
 * `azure` storages: a read-only SAS URL for one blob, signed with the account key (a service SAS, local)
 * or, without one, with a user delegation key got with an Entra ID credential (DefaultAzureCredential),
 * cached until it is about to end. The Azure SDKs load on first use.
 */
import type { TokenCredential } from '@azure/identity';
import type { ContainerClient, UserDelegationKey } from '@azure/storage-blob';
import type { AssetError } from '../errors.js';
import type { ResolvedAzureStorage } from './storage-config.js';
import { sdkError, type ObjectRef, type SignedUrl, type Storage } from './storage.js';

/** Fetches a user delegation key valid over [startsOn, expiresOn] (the Get User Delegation Key call). */
export type DelegationKeySource = (startsOn: Date, expiresOn: Date) => Promise<UserDelegationKey>;

/** Delegated access only: the Entra ID credential (default DefaultAzureCredential), or the key source itself (tests). */
export interface AzureStorageOptions {
  credential?: TokenCredential;
  delegationKeys?: DelegationKeySource;
}

/** How long a user delegation key is asked for; Azure allows up to 7 days. */
export const delegationKeyLifetimeMs = 6 * 3600_000;
/** Azure compares the key's start with its own clock: start a little in the past. */
const clockSkewMs = 5 * 60_000;

export function createAzureStorage(config: ResolvedAzureStorage, options: AzureStorageOptions = {}): Storage {
  const endpoint = (config.endpoint ?? `https://${config.account}.blob.core.windows.net`).replace(/\/+$/, '');
  let signer: Promise<Signer> | undefined;
  const load = () =>
    (signer ??= makeSigner(config, endpoint, options).catch((err: unknown) => {
      signer = undefined;
      throw err;
    }));
  return {
    id: config.id,
    kind: 'azure',
    sign: async (ref) => (await load()).sign(ref),
    async sampleKey() {
      const { container } = await load();
      try {
        const page = await container.listBlobsFlat().byPage({ maxPageSize: 1 }).next();
        return page.done ? undefined : page.value.segment.blobItems[0]?.name;
      } catch (err) {
        throw azureError(config.id, 'list blobs', err);
      }
    },
  };
}

type Signer = { sign(ref: ObjectRef): Promise<SignedUrl>; container: ContainerClient };

async function makeSigner(config: ResolvedAzureStorage, endpoint: string, options: AzureStorageOptions): Promise<Signer> {
  const { BlobServiceClient, BlobSASPermissions, SASProtocol, StorageSharedKeyCredential, generateBlobSASQueryParameters } =
    await import('@azure/storage-blob');
  // Over https the SAS is good for https only; http is for a local emulator.
  const protocol = endpoint.startsWith('https:') ? SASProtocol.Https : SASProtocol.HttpsAndHttp;
  const values = (ref: ObjectRef, expiresOn: Date) => ({
    containerName: config.container,
    blobName: ref.key,
    permissions: BlobSASPermissions.parse('r'),
    protocol,
    expiresOn,
    ...(ref.versionId ? { versionId: ref.versionId } : {}),
  });

  let sas: (ref: ObjectRef, expiresOn: Date) => Promise<string>;
  let service: InstanceType<typeof BlobServiceClient>;
  if (config.accountKey) {
    const key = new StorageSharedKeyCredential(config.account, config.accountKey);
    service = new BlobServiceClient(endpoint, key);
    sas = async (ref, expiresOn) => generateBlobSASQueryParameters(values(ref, expiresOn), key).toString();
  } else {
    service = new BlobServiceClient(endpoint, options.credential ?? (await defaultCredential()));
    const fetchKey: DelegationKeySource =
      options.delegationKeys ?? (async (startsOn, expiresOn) => service.getUserDelegationKey(startsOn, expiresOn));
    // A SAS may not outlive its key: fetch a new key when the current one ends within one URL lifetime.
    const keys = cachedDelegationKeys(fetchKey, { refreshBeforeMs: config.urlTtlSeconds * 1000 + clockSkewMs });
    sas = async (ref, expiresOn) => {
      const key = await keys().catch((err: unknown) => {
        throw azureError(config.id, 'get a user delegation key', err);
      });
      return generateBlobSASQueryParameters(values(ref, expiresOn), key, config.account).toString();
    };
  }
  const container = service.getContainerClient(config.container);
  return {
    container,
    async sign(ref) {
      const expiresAt = new Date(Date.now() + config.urlTtlSeconds * 1000);
      const query = await sas(ref, expiresAt);
      // The client encodes the blob name as Azure expects (each path segment, '/' kept).
      const client = container.getBlobClient(ref.key);
      const base = ref.versionId ? client.withVersion(ref.versionId).url : client.url;
      return { url: `${base}${base.includes('?') ? '&' : '?'}${query}`, expiresAt };
    },
  };
}

async function defaultCredential(): Promise<TokenCredential> {
  const { DefaultAzureCredential } = await import('@azure/identity');
  return new DefaultAzureCredential();
}

/**
 * A user delegation key shared by every signature until it is about to end. One fetch at a time; a
 * failed fetch is not cached, so the next signature asks again.
 */
export function cachedDelegationKeys(
  fetchKey: DelegationKeySource,
  options: { refreshBeforeMs: number; lifetimeMs?: number; now?: () => number },
): () => Promise<UserDelegationKey> {
  const now = options.now ?? Date.now;
  const lifetimeMs = options.lifetimeMs ?? delegationKeyLifetimeMs;
  let current: { key: UserDelegationKey; expiresAt: number } | undefined;
  let pending: Promise<UserDelegationKey> | undefined;
  return () => {
    if (current && current.expiresAt - now() > options.refreshBeforeMs) return Promise.resolve(current.key);
    pending ??= (async () => {
      try {
        const t = now();
        const key = await fetchKey(new Date(t - clockSkewMs), new Date(t + lifetimeMs));
        current = { key, expiresAt: key.signedExpiresOn.getTime() };
        return key;
      } finally {
        pending = undefined;
      }
    })();
    return pending;
  };
}

/** Azure SDK errors carry the HTTP status (RestError); Entra ID refusing the worker's identity is AuthenticationError. */
function azureError(id: string, doing: string, err: unknown): AssetError {
  const e = err as { statusCode?: number; name?: string } | undefined;
  return sdkError(id, doing, err, e?.statusCode, e?.name === 'AuthenticationError');
}
