/**
 * The webhook sink's signature (docs/contract.md §3): `X-Signature: sha256=<hex HMAC-SHA256 of the body
 * bytes, keyed with WEBHOOK_SECRET>`, GitHub's scheme. Receivers verify the raw body before parsing it
 * (docs/webhook.md). Imports nothing of ours, so backends can use it from the package alone.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

/** The header that carries the signature. */
export const SIGNATURE_HEADER = 'X-Signature';
const scheme = 'sha256=';

/** `sha256=<hex>` for a body. */
export function signWebhookBody(body: string | Buffer, secret: string): string {
  return scheme + createHmac('sha256', secret).update(body).digest('hex');
}

/** True when `header` is `sha256=<hex>` of `body` (raw bytes as received) with `secret`; constant time. */
export function verifyWebhookSignature(body: string | Buffer, header: string | undefined | null, secret: string): boolean {
  if (typeof header !== 'string' || !header.startsWith(scheme)) return false;
  const hex = header.slice(scheme.length).trim();
  if (!/^[0-9a-f]{64}$/i.test(hex)) return false;
  const given = Buffer.from(hex, 'hex');
  const expected = createHmac('sha256', secret).update(body).digest();
  return given.length === expected.length && timingSafeEqual(given, expected);
}
