/**
 * The development S3 server's proxy side of a response: S3-shaped errors, the headers it passes on, and
 * an upstream body relayed with a reset or stall fault injected at a byte offset.
 */
import { randomBytes } from 'node:crypto';
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';

/** One request that reached the proxy. */
export interface RequestLog {
  method: string;
  /** The request path as sent (percent-encoded), without the query string: signatures stay out of logs. */
  path: string;
  /** The Range header as the client sent it. */
  range: string | undefined;
  /** 0 until the response head is written. */
  status: number;
  /** Body bytes written to the client so far. */
  bytesSent: number;
}

/**
 * A fault for the next request(s) that pass signature verification; `count` defaults to 1. `pass` lets
 * the request through untouched: queued first, it aims the next fault at a later request (the second GET
 * of a ranged read, say).
 */
export type Fault = { count?: number } & (
  | { pass: true }
  | { status: 500 | 503 }
  | { resetAfterBytes: number }
  | { stallAfterBytes: number; stallMs: number }
  | { delayMs: number }
);


// Connection-scoped headers are not forwarded (RFC 9110 §7.6.1); Node sets its own framing.
const hopByHop = new Set(['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'upgrade']);

export function xmlEscape(text: string): string {
  return text.replace(/[<>&'"]/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** An S3 error response (https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html). */
export function sendError(req: IncomingMessage, res: ServerResponse, log: RequestLog, status: number, code: string, message: string) {
  req.resume(); // discard an unread upload body so the connection stays usable
  const body =
    '<?xml version="1.0" encoding="UTF-8"?>\n' +
    `<Error><Code>${code}</Code><Message>${xmlEscape(message)}</Message>` +
    `<RequestId>${randomBytes(8).toString('hex').toUpperCase()}</RequestId></Error>`;
  log.status = status;
  res.writeHead(status, { 'content-type': 'application/xml', 'content-length': Buffer.byteLength(body) });
  res.end(req.method === 'HEAD' ? undefined : body);
}

export function forwardable(headers: IncomingHttpHeaders): IncomingHttpHeaders {
  return Object.fromEntries(Object.entries(headers).filter(([name]) => !hopByHop.has(name)));
}

/** Resolves when `res` can take more data or is gone. */
function drained(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}

/** Streams an upstream body to the client, applying a reset or stall fault at its byte offset. */
export async function relayBody(upstream: IncomingMessage, res: ServerResponse, log: RequestLog, fault: Fault | undefined) {
  const atByte = fault && ('resetAfterBytes' in fault || 'stallAfterBytes' in fault) ? fault : undefined;
  const limit = atByte && ('resetAfterBytes' in atByte ? atByte.resetAfterBytes : atByte.stallAfterBytes);
  res.on('close', () => upstream.destroy());
  for await (const chunk of upstream as AsyncIterable<Buffer>) {
    let rest = chunk;
    if (atByte && limit !== undefined && log.bytesSent <= limit && log.bytesSent + rest.length > limit) {
      const head = rest.subarray(0, limit - log.bytesSent);
      log.bytesSent += head.length;
      if ('resetAfterBytes' in atByte) {
        // Destroy only once these bytes are flushed, so the client really sees a body cut at `limit`.
        res.write(head, () => res.socket?.destroy());
        return;
      }
      if (!res.write(head)) await drained(res);
      await sleep(atByte.stallMs);
      rest = rest.subarray(head.length);
    }
    if (res.destroyed) return;
    log.bytesSent += rest.length;
    if (!res.write(rest)) await drained(res);
  }
  res.end();
}

