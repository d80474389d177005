/**
 * Server-side check of AWS Signature Version 4, for the development S3 server (s3-server.ts): s3rver
 * accepts any V4 signature, so without this check a test could pass with a broken signer.
 *
 * The signature is recomputed with @smithy/signature-v4, the signer the AWS SDK itself uses, from the
 * request as received, and compared in constant time. Both ways S3 accepts are checked: presigned query
 * URLs and the Authorization header. The body is not hashed here: like S3, the signature covers the x-amz-content-sha256 value as sent.
 */
import { createHash, createHmac, timingSafeEqual, type Hash, type Hmac } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import type { SignatureV4 as SignatureV4Type } from '@smithy/signature-v4';

/** A refusal, in S3's vocabulary (https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html). */
export interface SigV4Failure {
  status: 400 | 403;
  code: string;
  message: string;
}

/** The parts of an incoming request the signature covers. `url` is the raw request target (path + query). */
export interface SignedRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
}

/** Returns undefined when the request is signed by a known key and still valid, or the reason it is not. */
export type SigV4Verifier = (request: SignedRequest) => Promise<SigV4Failure | undefined>;

/** Options of {@link createSigV4Verifier}. */
export interface SigV4VerifierOptions {
  /** Secret access key by access key id. */
  keys: ReadonlyMap<string, string>;
  region: string;
  /** Clock, injectable for tests; milliseconds since the epoch. */
  now?: () => number;
}

const algorithm = 'AWS4-HMAC-SHA256';
const service = 's3';
// S3's limits: presigned URLs live at most 7 days; header-signed requests may be 15 minutes off.
const maxPresignedTtlSeconds = 7 * 24 * 3600;
const maxClockSkewMs = 15 * 60 * 1000;
const unsignedPayload = 'UNSIGNED-PAYLOAD';
const authHeaderPattern = /^AWS4-HMAC-SHA256 Credential=([^,]+),\s*SignedHeaders=([^,]+),\s*Signature=([0-9a-f]+)$/;

/** SHA-256 and HMAC-SHA-256 from node:crypto, in the shape @smithy/signature-v4 takes. */
export class NodeSha256 {
  private hash: Hash | Hmac;
  constructor(private readonly secret?: string | ArrayBuffer | ArrayBufferView) {
    this.hash = this.create();
  }
  private create(): Hash | Hmac {
    if (this.secret === undefined) return createHash('sha256');
    const key = typeof this.secret === 'string' ? this.secret : toBuffer(this.secret);
    return createHmac('sha256', key);
  }
  update(data: string | ArrayBuffer | ArrayBufferView): void {
    this.hash.update(typeof data === 'string' ? data : toBuffer(data));
  }
  async digest(): Promise<Uint8Array> {
    return this.hash.digest();
  }
  reset(): void {
    this.hash = this.create();
  }
}

function toBuffer(data: ArrayBuffer | ArrayBufferView): Buffer {
  return ArrayBuffer.isView(data) ? Buffer.from(data.buffer, data.byteOffset, data.byteLength) : Buffer.from(data);
}

const deny = (code: string, message: string): SigV4Failure => ({ status: 403, code, message });
const malformed = (code: string, message: string): SigV4Failure => ({ status: 400, code, message });
const mismatch = deny(
  'SignatureDoesNotMatch',
  'The request signature we calculated does not match the signature you provided. Check your key and signing method.',
);

/** Parses `20240101T000000Z` (ISO 8601 basic, as SigV4 writes it) to epoch milliseconds, or NaN. */
function parseAmzDate(value: string | undefined): number {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value ?? '');
  if (!m) return Number.NaN;
  const [, y, mo, d, h, mi, s] = m.map(Number) as number[];
  return Date.UTC(y!, mo! - 1, d!, h, mi, s);
}

/**
 * Splits a raw query string without URLSearchParams, which would read `+` as a space: SigV4 signs
 * the percent-decoded values and re-encodes them itself.
 */
function parseQuery(raw: string): Record<string, string | string[]> {
  const query: Record<string, string | string[]> = {};
  for (const part of raw.split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const key = decodeURIComponent(eq < 0 ? part : part.slice(0, eq));
    const value = eq < 0 ? '' : decodeURIComponent(part.slice(eq + 1));
    const prior = query[key];
    query[key] = prior === undefined ? value : [...(Array.isArray(prior) ? prior : [prior]), value];
  }
  return query;
}

function sameSignature(expected: string, provided: string): boolean {
  const a = Buffer.from(expected);
  const b = Buffer.from(provided);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** What the checks need: the signer class (loaded lazily), the keys, the region and a clock. */
interface Env {
  SignatureV4: typeof SignatureV4Type;
  keys: ReadonlyMap<string, string>;
  region: string;
  now: () => number;
}

/** A request split into the parts SigV4 canonicalises. */
interface Parts {
  method: string;
  path: string;
  rawQuery: string;
  headers: IncomingHttpHeaders;
}

/** Checks the credential scope `<key>/<yyyymmdd>/<region>/s3/aws4_request` and finds the secret. */
function signerFor(env: Env, credential: string, amzDate: string, code: string): SignatureV4Type | SigV4Failure {
  const [accessKeyId = '', date, region, scopeService, terminator, ...rest] = credential.split('/');
  if (rest.length > 0 || date !== amzDate.slice(0, 8) || scopeService !== service || terminator !== 'aws4_request') {
    return malformed(code, `Invalid credential scope ${credential.slice(accessKeyId.length)}`);
  }
  if (region !== env.region) {
    return malformed(code, `The region '${region}' is wrong; expecting '${env.region}'`);
  }
  const secretAccessKey = env.keys.get(accessKeyId);
  if (secretAccessKey === undefined) {
    return deny('InvalidAccessKeyId', 'The AWS Access Key Id you provided does not exist in our records.');
  }
  return new env.SignatureV4({
    credentials: { accessKeyId, secretAccessKey },
    region: env.region,
    service,
    sha256: NodeSha256,
    // S3 signs the path as sent (already percent-encoded once), unlike other AWS services.
    uriEscapePath: false,
  });
}

/** The signed headers as received; a listed header that is absent cannot match. */
function pickHeaders(headers: IncomingHttpHeaders, names: string[]): Record<string, string> | undefined {
  const picked: Record<string, string> = {};
  for (const name of names) {
    const value = headers[name];
    if (value === undefined) return undefined;
    picked[name] = Array.isArray(value) ? value.join(',') : value;
  }
  return picked;
}

/** Query-string authentication: https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-query-string-auth.html */
async function verifyPresigned(env: Env, { method, path, rawQuery, headers }: Parts): Promise<SigV4Failure | undefined> {
  const code = 'AuthorizationQueryParametersError';
  const query = parseQuery(rawQuery);
  const param = (name: string): string | undefined => {
    const value = query[name];
    return typeof value === 'string' ? value : undefined;
  };
  const provided = param('X-Amz-Signature');
  const credential = param('X-Amz-Credential');
  const amzDate = param('X-Amz-Date');
  const expiresText = param('X-Amz-Expires');
  const signedHeaders = param('X-Amz-SignedHeaders');
  if (param('X-Amz-Algorithm') !== algorithm) return malformed(code, `X-Amz-Algorithm must be ${algorithm}`);
  if (!provided || !credential || !amzDate || !expiresText || !signedHeaders) {
    return malformed(code, 'Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters.');
  }
  const signedAt = parseAmzDate(amzDate);
  if (Number.isNaN(signedAt)) return malformed(code, `Invalid date format of header X-Amz-Date: ${amzDate}`);
  const expiresIn = /^\d+$/.test(expiresText) ? Number(expiresText) : Number.NaN;
  if (!(expiresIn >= 1 && expiresIn <= maxPresignedTtlSeconds)) {
    return malformed(code, `X-Amz-Expires must be between 1 and ${maxPresignedTtlSeconds} seconds`);
  }
  const signer = signerFor(env, credential, amzDate, code);
  if (!(signer instanceof env.SignatureV4)) return signer;

  const names = signedHeaders.split(';');
  const picked = pickHeaders(headers, names);
  if (!picked) return mismatch;
  delete query['X-Amz-Signature'];
  // The SDK signs the payload hash from a header and hoists it into the query; put it back where the
  // signer looks. A URL without it (other SDKs) is signed with UNSIGNED-PAYLOAD, kept out of the query.
  // The header name keeps the query key's case: it is hoisted back under that name, and the canonical
  // query sorts by it.
  const hashKey = Object.keys(query).find((name) => name.toLowerCase() === 'x-amz-content-sha256');
  const payloadHash = hashKey === undefined ? undefined : param(hashKey);
  if (hashKey !== undefined) delete query[hashKey];
  picked[hashKey ?? 'x-amz-content-sha256'] = payloadHash ?? unsignedPayload;
  const keepAsHeader = new Set(payloadHash === undefined ? [...names, 'x-amz-content-sha256'] : names);
  const signed = await signer.presign(
    { method, protocol: 'http:', hostname: '', path, query, headers: picked },
    {
      signingDate: new Date(signedAt),
      expiresIn,
      signableHeaders: new Set(names),
      unhoistableHeaders: keepAsHeader,
      unsignableHeaders: payloadHash === undefined ? new Set(['x-amz-content-sha256']) : undefined,
    },
  );
  const expected = signed.query?.['X-Amz-Signature'];
  if (typeof expected !== 'string' || !sameSignature(expected, provided)) return mismatch;
  // Checked after the signature, so "expired" always means a genuine URL whose time ran out.
  if (env.now() > signedAt + expiresIn * 1000) return deny('AccessDenied', 'Request has expired');
  if (signedAt - env.now() > maxClockSkewMs) return deny('AccessDenied', 'Request is not valid yet');
  return undefined;
}

/** Authorization header: https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-auth-using-authorization-header.html */
async function verifyHeader(env: Env, { method, path, rawQuery, headers }: Parts): Promise<SigV4Failure | undefined> {
  const code = 'AuthorizationHeaderMalformed';
  const match = authHeaderPattern.exec(String(headers.authorization));
  if (!match) return malformed(code, 'The authorization header is malformed.');
  const [, credential = '', signedHeaders = '', provided = ''] = match;
  const amzDate = headers['x-amz-date'];
  const signedAt = parseAmzDate(typeof amzDate === 'string' ? amzDate : undefined);
  if (typeof amzDate !== 'string' || Number.isNaN(signedAt)) {
    return deny('AccessDenied', 'AWS authentication requires a valid Date or x-amz-date header');
  }
  const signer = signerFor(env, credential, amzDate, code);
  if (!(signer instanceof env.SignatureV4)) return signer;

  const names = signedHeaders.split(';');
  const picked = pickHeaders(headers, names);
  const payloadHash = headers['x-amz-content-sha256'];
  if (!picked || !names.includes('x-amz-date') || typeof payloadHash !== 'string') return mismatch;
  // The signer takes the payload hash from this header; it only counts as signed if it was listed.
  picked['x-amz-content-sha256'] = payloadHash;
  const signed = await signer.sign(
    { method, protocol: 'http:', hostname: '', path, query: parseQuery(rawQuery), headers: picked },
    {
      signingDate: new Date(signedAt),
      signableHeaders: new Set(names),
      unsignableHeaders: names.includes('x-amz-content-sha256') ? undefined : new Set(['x-amz-content-sha256']),
    },
  );
  const expected = /Signature=([0-9a-f]+)$/.exec(signed.headers.authorization ?? '')?.[1];
  if (expected === undefined || !sameSignature(expected, provided)) return mismatch;
  if (Math.abs(env.now() - signedAt) > maxClockSkewMs) {
    return deny('RequestTimeTooSkewed', 'The difference between the request time and the current time is too large.');
  }
  return undefined;
}

/**
 * Makes a verifier for the given keys. Loads @smithy/signature-v4 on first use only, so production code
 * that never starts the development server never loads it.
 */
export async function createSigV4Verifier(options: SigV4VerifierOptions): Promise<SigV4Verifier> {
  const { SignatureV4 } = await import('@smithy/signature-v4');
  const env: Env = { SignatureV4, keys: options.keys, region: options.region, now: options.now ?? Date.now };
  return async ({ method, url, headers }) => {
    const q = url.indexOf('?');
    const path = q < 0 ? url : url.slice(0, q);
    const rawQuery = q < 0 ? '' : url.slice(q + 1);
    const parts: Parts = { method, path, rawQuery, headers };
    const presigned = /(^|&)X-Amz-Algorithm=/.test(rawQuery);
    if (presigned && headers.authorization !== undefined) {
      return malformed('InvalidArgument', 'Only one auth mechanism allowed');
    }
    try {
      if (presigned) return await verifyPresigned(env, parts);
      if (headers.authorization !== undefined) return await verifyHeader(env, parts);
    } catch (error) {
      // A malformed percent-escape (decodeURIComponent) is the client's fault, as on S3.
      if (error instanceof URIError) return malformed('InvalidArgument', 'Malformed query string');
      throw error;
    }
    return deny('AccessDenied', 'Access Denied');
  };
}
