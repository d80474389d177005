/**
 * `signer` storages: the backend signs. `POST url` with `{assetId, storageId, key, versionId}` and a bearer
 * token; the answer is `{url, expiresAt}` (docs/contract.md §2). The whole exchange, body included, has
 * `timeoutMs`; an answer over maxSignerAnswerBytes is refused unread. The URL answered is trusted as the
 * backend's own (http-get.ts): fetched without the SSRF guard, as are its redirects.
 */
import { z } from 'zod';
import { AccessDeniedError, NotFoundError, StorageUnavailableError, messageOf } from '../errors.js';
import type { ResolvedSignerStorage } from './storage-config.js';
import type { Storage } from './storage.js';

/** An answer is a URL and a date: a body this large is not one. */
export const maxSignerAnswerBytes = 64 * 1024;

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
      const signal = AbortSignal.timeout(config.timeoutMs);
      try {
        res = await fetch(config.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...(config.token ? { authorization: `Bearer ${config.token}` } : {}) },
          body: JSON.stringify({ assetId: ref.assetId, storageId: config.id, key: ref.key, versionId: ref.versionId }),
          signal,
          redirect: 'error',
        });
      } catch (err) {
        if (signal.aborted) throw timedOut(config.id, config.timeoutMs, 'before its answer began');
        throw new StorageUnavailableError(`signer ${config.id} unreachable: ${messageOf(err).slice(0, 200)}`, { cause: err });
      }
      if (res.status === 404) throw new NotFoundError(`signer ${config.id}: no such object`);
      if (res.status === 401 || res.status === 403) throw new AccessDeniedError(`signer ${config.id} refused: HTTP ${res.status}`);
      if (!res.ok) throw new StorageUnavailableError(`signer ${config.id} answered HTTP ${res.status}`);
      const parsed = AnswerSchema.safeParse(await readAnswer(res, signal, config.id, config.timeoutMs));
      if (!parsed.success) throw new StorageUnavailableError(`signer ${config.id} gave an answer without a valid url`);
      return { url: parsed.data.url, ...(parsed.data.expiresAt ? { expiresAt: new Date(parsed.data.expiresAt) } : {}) };
    },
  };
}

const timedOut = (id: string, timeoutMs: number, when: string) => new StorageUnavailableError(`signer ${id} timed out after ${timeoutMs} ms ${when}`);

/** The answer's JSON, undefined when it is not JSON; a body that stops coming is a timeout, not a bad answer. */
async function readAnswer(res: Response, signal: AbortSignal, id: string, timeoutMs: number): Promise<unknown> {
  const declared = Number(res.headers.get('content-length'));
  if (declared > maxSignerAnswerBytes) {
    await res.body?.cancel().catch(() => {});
    throw new StorageUnavailableError(`signer ${id} answered with ${declared} bytes, over the ${maxSignerAnswerBytes} an answer may have`);
  }
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    for await (const chunk of res.body ?? []) {
      size += chunk.length;
      if (size > maxSignerAnswerBytes) {
        await res.body?.cancel().catch(() => {});
        throw new StorageUnavailableError(`signer ${id} answered with more than the ${maxSignerAnswerBytes} bytes an answer may have`);
      }
      chunks.push(chunk);
    }
  } catch (err) {
    if (err instanceof StorageUnavailableError) throw err;
    if (signal.aborted) throw timedOut(id, timeoutMs, 'while sending its answer');
    throw new StorageUnavailableError(`signer ${id} answer cut off: ${messageOf(err).slice(0, 200)}`, { cause: err });
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    return undefined;
  }
}
