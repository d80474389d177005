/**
 * `signer` storages: the backend signs. `POST url` with `{assetId, storageId, key, versionId}` and a bearer
 * token; the answer is `{url, expiresAt}` (CONTRACT.md §2).
 */
import { z } from 'zod';
import { AccessDeniedError, NotFoundError, StorageUnavailableError, messageOf } from '../errors.js';
import type { ResolvedSignerStorage } from './storage-config.js';
import type { Storage } from './storage.js';

const AnswerSchema = z.object({
  url: z.url({ protocol: /^https?$/ }),
  expiresAt: z.iso.datetime({ offset: true }).optional(),
});

export function createSignerStorage(config: ResolvedSignerStorage): Storage {
  return {
    id: config.id,
    kind: 'signer',
    async sign(ref) {
      let res: Response;
      try {
        res = await fetch(config.url, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            ...(config.token ? { authorization: `Bearer ${config.token}` } : {}),
          },
          body: JSON.stringify({ assetId: ref.assetId, storageId: config.id, key: ref.key, versionId: ref.versionId }),
          signal: AbortSignal.timeout(config.timeoutMs),
          redirect: 'error',
        });
      } catch (err) {
        throw new StorageUnavailableError(`signer ${config.id} unreachable: ${messageOf(err)}`, { cause: err });
      }
      if (res.status === 404) throw new NotFoundError(`signer ${config.id}: no such object`);
      if (res.status === 401 || res.status === 403) throw new AccessDeniedError(`signer ${config.id} refused: HTTP ${res.status}`);
      if (!res.ok) throw new StorageUnavailableError(`signer ${config.id} answered HTTP ${res.status}`);
      const parsed = AnswerSchema.safeParse(await res.json().catch(() => undefined));
      if (!parsed.success) throw new StorageUnavailableError(`signer ${config.id} gave an answer without a valid url`);
      return {
        url: parsed.data.url,
        ...(parsed.data.expiresAt ? { expiresAt: new Date(parsed.data.expiresAt) } : {}),
      };
    },
  };
}
