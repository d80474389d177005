/**
 * A stand-in for Cloud Storage's XML API, for tests: no GCS emulator runs on this machine, so this server
 * checks V4 signed URLs itself, written from Google's description of the algorithm (not from the SDK):
 * https://cloud.google.com/storage/docs/authentication/signatures and
 * https://cloud.google.com/storage/docs/access-control/signing-urls-manually
 *
 *   canonical request = verb \n path \n canonical query \n canonical headers \n\n signed headers \n UNSIGNED-PAYLOAD
 *   string to sign    = GOOG4-RSA-SHA256 \n X-Goog-Date \n <date>/<location>/storage/goog4_request \n hex(SHA-256(canonical request))
 *   X-Goog-Signature  = hex(RSA-SHA256(string to sign)) with the service account's private key
 *
 * It verifies with the PUBLIC half of the test's key, as Google does with the account's public certificate.
 * What real GCS answers, and this server copies: a bad signature is 403 SignatureDoesNotMatch; an expired
 * URL is 400 ExpiredToken (not 403); a missing object is 404 NoSuchKey.
 */
import { createHash, verify as rsaVerify, type KeyObject } from 'node:crypto';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { rangeOf } from './object-server.js';

export interface Goog4Request {
  method: string;
  /** The request target as sent: percent-encoded path and query. */
  target: string;
  /** The Host header's name, without a port (see `hostForSignature`). */
  host: string;
}

export type Goog4Result =
  | { ok: true; email: string; path: string; signedAt: number; expiresInSeconds: number; query: URLSearchParams }
  | { ok: false; status: 400 | 403; code: string; message: string };

/** RFC 3986 percent-encoding of everything but the unreserved characters, as the canonical query wants. */
const encode = (s: string) => encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

function parseGoogDate(value: string): number {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value);
  if (!m) return Number.NaN;
  const [, y, mo, d, h, mi, s] = m.map(Number) as number[];
  return Date.UTC(y!, mo! - 1, d!, h, mi, s);
}

/** Checks a V4 signed URL; `publicKeys` maps a service account email to its public key. */
export function verifyGoog4(req: Goog4Request, publicKeys: ReadonlyMap<string, KeyObject>, now = Date.now()): Goog4Result {
  const q = req.target.indexOf('?');
  const path = q < 0 ? req.target : req.target.slice(0, q);
  const query = new URLSearchParams(q < 0 ? '' : req.target.slice(q + 1));
  const deny = (status: 400 | 403, code: string, message: string): Goog4Result => ({ ok: false, status, code, message });
  const param = (name: string) => query.get(name) ?? undefined;

  const algorithm = param('X-Goog-Algorithm');
  const credential = param('X-Goog-Credential');
  const date = param('X-Goog-Date');
  const expires = param('X-Goog-Expires');
  const signedHeaders = param('X-Goog-SignedHeaders');
  const signature = param('X-Goog-Signature');
  if (!algorithm && !signature) return deny(403, 'AccessDenied', 'Anonymous caller does not have storage.objects.get access.');
  if (algorithm !== 'GOOG4-RSA-SHA256') return deny(400, 'InvalidArgument', 'X-Goog-Algorithm must be GOOG4-RSA-SHA256');
  if (!credential || !date || !expires || !signedHeaders || !signature || !/^[0-9a-f]+$/.test(signature)) {
    return deny(400, 'InvalidArgument', 'missing or malformed X-Goog-* parameters');
  }
  // Credential: <email>/<yyyymmdd>/<location>/storage/goog4_request
  const parts = credential.split('/');
  const [email = '', scopeDate, location, service, terminator] = parts;
  if (parts.length !== 5 || scopeDate !== date.slice(0, 8) || !location || service !== 'storage' || terminator !== 'goog4_request') {
    return deny(400, 'AuthorizationQueryParametersError', 'malformed X-Goog-Credential');
  }
  const signedAt = parseGoogDate(date);
  const expiresInSeconds = /^\d+$/.test(expires) ? Number(expires) : Number.NaN;
  if (Number.isNaN(signedAt)) return deny(400, 'InvalidArgument', 'malformed X-Goog-Date');
  if (!(expiresInSeconds >= 1 && expiresInSeconds <= 604_800)) return deny(400, 'InvalidArgument', 'X-Goog-Expires out of range');
  const publicKey = publicKeys.get(email);
  if (!publicKey) return deny(403, 'SignatureDoesNotMatch', 'unknown service account');

  const names = signedHeaders.split(';');
  if (!names.includes('host') || names.some((n, i) => i > 0 && n <= names[i - 1]!)) {
    return deny(400, 'InvalidArgument', 'X-Goog-SignedHeaders must be sorted and include host');
  }
  const headerValues: Record<string, string> = { host: req.host };
  if (names.some((n) => headerValues[n] === undefined)) return deny(403, 'SignatureDoesNotMatch', 'a signed header is absent');
  const canonicalHeaders = names.map((n) => `${n}:${headerValues[n]!.trim()}\n`).join('');
  const canonicalQuery = [...query.entries()]
    .filter(([name]) => name !== 'X-Goog-Signature')
    .map(([name, value]) => [encode(name), encode(value)] as const)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([name, value]) => `${name}=${value}`)
    .join('&');
  const canonicalRequest = [req.method, path, canonicalQuery, canonicalHeaders, signedHeaders, 'UNSIGNED-PAYLOAD'].join('\n');
  const stringToSign = [
    'GOOG4-RSA-SHA256',
    date,
    parts.slice(1).join('/'),
    createHash('sha256').update(canonicalRequest).digest('hex'),
  ].join('\n');
  if (!rsaVerify('RSA-SHA256', Buffer.from(stringToSign), publicKey, Buffer.from(signature, 'hex'))) {
    return deny(403, 'SignatureDoesNotMatch', 'The request signature we calculated does not match the signature you provided.');
  }
  // Checked after the signature, so that "expired" always means a genuine URL whose time ran out.
  if (now > signedAt + expiresInSeconds * 1000) return deny(400, 'ExpiredToken', 'Invalid argument.');
  return { ok: true, email, path, signedAt, expiresInSeconds, query };
}

/**
 * The host a URL was signed for. @google-cloud/storage signs the endpoint's host *name* (signer.js takes
 * `URL.hostname`), without a port; on GCS, at the default port, the two are the same.
 */
export const hostForSignature = (hostHeader: string | undefined) => (hostHeader ?? '').replace(/:\d+$/, '');

export interface GcsServer {
  /** `http://127.0.0.1:<port>`: the `endpoint` of a gcs entry. */
  endpoint: string;
  put(bucket: string, name: string, body: Buffer | string): void;
  /** Status of every request in order, for assertions on re-signing. */
  statuses: number[];
  close(): Promise<void>;
}

export async function startGcsServer(publicKeys: ReadonlyMap<string, KeyObject>): Promise<GcsServer> {
  const objects = new Map<string, Buffer>();
  const statuses: number[] = [];
  const reply = (res: ServerResponse, status: number, code: string, message: string) => {
    statuses.push(status);
    const body = `<?xml version='1.0' encoding='UTF-8'?><Error><Code>${code}</Code><Message>${message}</Message></Error>`;
    res.writeHead(status, { 'content-type': 'application/xml' }).end(body);
  };
  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const checked = verifyGoog4(
      { method: req.method ?? 'GET', target: req.url ?? '/', host: hostForSignature(req.headers.host) },
      publicKeys,
    );
    if (!checked.ok) return reply(res, checked.status, checked.code, checked.message);
    if (req.method !== 'GET') return reply(res, 405, 'MethodNotAllowed', 'only GET');
    // Path style: /<bucket>/<object>, the object name percent-encoded.
    const [, bucket = '', ...rest] = checked.path.split('/');
    const body = objects.get(`${bucket}/${decodeURIComponent(rest.join('/'))}`);
    if (!body) return reply(res, 404, 'NoSuchKey', 'The specified key does not exist.');
    const range = rangeOf(req.headers.range, body.length);
    if (range === 'unsatisfiable') return reply(res, 416, 'InvalidRange', 'The requested range cannot be satisfied.');
    if (range) {
      const { start, end } = range;
      statuses.push(206);
      res.writeHead(206, { 'content-range': `bytes ${start}-${end}/${body.length}`, 'content-length': end - start + 1 });
      return res.end(body.subarray(start, end + 1));
    }
    statuses.push(200);
    res.writeHead(200, { 'content-length': body.length, 'content-type': 'application/octet-stream' }).end(body);
  };
  const server = http.createServer(handle);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    statuses,
    put(bucket, name, body) {
      objects.set(`${bucket}/${name}`, typeof body === 'string' ? Buffer.from(body) : body);
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
