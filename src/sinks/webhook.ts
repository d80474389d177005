/**
 * The `webhook` sink (docs/contract.md §3): `POST WEBHOOK_URL` with the result as JSON, signed in `X-Signature`
 * (see webhook-signature.ts).
 *
 * Delivery is at least once. Anything but a 2xx answer within the timeout is a failure to deliver and
 * throws RESULT_SINK_UNAVAILABLE, which the queue layer answers by delaying the job and saving again later
 * (the result is kept in the job, the asset is not fetched again). That includes 4xx answers, not only
 * 408 and 429: a 401 or 404 from the receiver means a wrong secret or URL, which an operator fixes, and a
 * result must not be dropped meanwhile. Redirects are not followed (a signed body goes only where
 * configured), so a 3xx fails too. Receivers should upsert by `assetId`: a retried delivery repeats a body.
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
  // The URL may carry a token in its query string: errors name it without one.
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
