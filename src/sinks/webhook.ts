/**
 * The `webhook` sink (docs/contract.md §3): `POST WEBHOOK_URL` with the result as JSON, signed in
 * `X-Signature` (webhook-signature.ts). At least once: anything but a 2xx within the timeout throws
 * RESULT_SINK_UNAVAILABLE, and the job is delayed and saves again later. 4xx too: a 401 or 404 means a
 * wrong secret or URL, which an operator fixes, and no result may be dropped meanwhile. Redirects are not
 * followed (a signed body goes only where configured). Receivers upsert by `assetId`: a retry repeats a body.
 */
import type { AssetResult } from '../contract.js';
import { ResultSinkUnavailableError, messageOf } from '../errors.js';
import { redactUrl } from '../storage/redact.js';
import type { ResultSink } from './sink.js';
import { SIGNATURE_HEADER, signWebhookBody } from './webhook-signature.js';

export interface WebhookSinkOptions {
  url: string;
  secret: string;
  /** One POST, connect to the end of the answer. */
  timeoutMs: number;
}

export function createWebhookSink(options: WebhookSinkOptions): ResultSink {
  // Errors name the URL without its query string (it may carry a token).
  const where = redactUrl(options.url);
  return {
    name: 'webhook',
    init: async () => {},
    async save(result: AssetResult) {
      const body = JSON.stringify(result);
      let status: number;
      try {
        const res = await fetch(options.url, {
          method: 'POST',
          body,
          redirect: 'manual',
          signal: AbortSignal.timeout(options.timeoutMs),
          headers: {
            'content-type': 'application/json',
            'user-agent': 'asset-metadata-worker',
            [SIGNATURE_HEADER]: signWebhookBody(body, options.secret),
          },
        });
        status = res.status;
        // The answer's body is not used; read it off so the connection can be reused.
        await res.arrayBuffer().catch(() => {});
      } catch (err) {
        const what = err instanceof DOMException && err.name === 'TimeoutError' ? `no answer within ${options.timeoutMs} ms` : describe(err);
        throw new ResultSinkUnavailableError(`webhook POST to ${where} failed: ${what}`, { cause: err });
      }
      if (status < 200 || status > 299) {
        throw new ResultSinkUnavailableError(`webhook POST to ${where} answered HTTP ${status}`);
      }
    },
    close: async () => {},
  };
}

/** fetch says only "fetch failed"; the reason (ECONNREFUSED, a TLS error) is in its cause. */
function describe(err: unknown): string {
  const cause = err instanceof Error ? (err.cause as { code?: unknown; message?: unknown } | undefined) : undefined;
  const detail = typeof cause?.code === 'string' ? cause.code : typeof cause?.message === 'string' ? cause.message : '';
  return detail ? `${messageOf(err)} (${detail})` : messageOf(err);
}
