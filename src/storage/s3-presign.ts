/**
 * Presigned GetObject URLs for one bucket, at the cost of the signature alone.
 *
 * Why: `getSignedUrl` resolves the S3 endpoint rules twice, clones the client's middleware stack and
 * serializes the command for every URL: 0.6-0.9 ms of CPU each (measured here), about a tenth of what a
 * replica spends on a small asset. None of that depends on the key. So the first URL of a storage is
 * made by `getSignedUrl`, and from it we keep what does not change from key to key: scheme, host, the
 * path before the key, the query parameters the SDK adds, and the signing region and service of its
 * credential scope. Every later URL is that request with the key put in, signed by the SDK's own
 * presigner (`S3RequestPresigner`, the class `getSignedUrl` signs with) and the same credentials
 * provider (so role credentials refresh as before).
 *
 * test/storage/s3-presign.test.ts checks that both give the same URL, parameter for parameter, for keys
 * of every awkward kind, with and without a version, path-style and virtual-hosted. A first URL whose
 * path does not end with the key as we encode it is not used as a template: every URL then comes from
 * `getSignedUrl`.
 */
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { S3RequestPresigner, getSignedUrl } from '@aws-sdk/s3-request-presigner';

export interface ObjectRef {
  key: string;
  versionId?: string;
}

/** What one presigned URL of the bucket says about all others. */
interface Template {
  protocol: string;
  hostname: string;
  port?: number;
  /** The path before the key: "/bucket/" path-style, "/" virtual-hosted. */
  prefix: string;
  /** Parameters the SDK adds besides the signature's (x-id, x-amz-checksum-mode, ...). */
  query: Record<string, string>;
  presigner: S3RequestPresigner;
  region: string;
  service: string;
}

/** The query parameters the presigner itself writes; everything else in a URL belongs to the request. */
const signatureParams = new Set([
  'X-Amz-Algorithm', 'X-Amz-Content-Sha256', 'X-Amz-Credential', 'X-Amz-Date', 'X-Amz-Expires',
  'X-Amz-Security-Token', 'X-Amz-Signature', 'X-Amz-SignedHeaders',
]);

/** RFC 3986 escaping as the SDK writes URL parts (encodeURIComponent, plus !'()*). */
const escape = (s: string): string => encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

/** A greedy {Key+} path label: each segment escaped, the slashes kept. */
const encodeKey = (key: string): string => key.split('/').map(escape).join('/');

export function createS3Presigner(client: S3Client, bucket: string, expiresIn: number) {
  let template: Template | undefined;

  async function viaSdk(ref: ObjectRef, signingDate?: Date): Promise<string> {
    const command = new GetObjectCommand({ Bucket: bucket, Key: ref.key, ...(ref.versionId ? { VersionId: ref.versionId } : {}) });
    return getSignedUrl(client, command, { expiresIn, ...(signingDate ? { signingDate } : {}) });
  }

  const presign = async (ref: ObjectRef, signingDate?: Date): Promise<string> => {
    if (!template) {
      const url = await viaSdk(ref, signingDate);
      template = templateOf(client, url, ref);
      return url;
    }
    const t = template;
    const request = {
      method: 'GET',
      protocol: t.protocol,
      hostname: t.hostname,
      ...(t.port !== undefined ? { port: t.port } : {}),
      path: t.prefix + encodeKey(ref.key),
      query: { ...t.query, ...(ref.versionId ? { versionId: ref.versionId } : {}) },
      headers: { host: t.port !== undefined ? `${t.hostname}:${t.port}` : t.hostname },
    };
    const signed = await t.presigner.presign(request as Parameters<S3RequestPresigner['presign']>[0], {
      expiresIn,
      signingRegion: t.region,
      signingService: t.service,
      ...(signingDate ? { signingDate } : {}),
    });
    return formatUrl(signed);
  };
  /** Whether URLs are now made from the template (false before the first, or if it could not be read). */
  const templated = (): boolean => template !== undefined;
  return Object.assign(presign, { templated });
}

/** The template a first URL gives, or undefined when it cannot be read back (then the SDK signs every URL). */
function templateOf(client: S3Client, url: string, ref: ObjectRef): Template | undefined {
  const u = new URL(url);
  const key = encodeKey(ref.key);
  if (!u.pathname.endsWith(key)) return undefined;
  const scope = u.searchParams.get('X-Amz-Credential')?.split('/');
  const [region, service] = [scope?.[2], scope?.[3]];
  if (!region || !service || scope?.length !== 5) return undefined;
  const query: Record<string, string> = {};
  for (const [k, v] of u.searchParams) {
    if (signatureParams.has(k) || (k === 'versionId' && ref.versionId !== undefined)) continue;
    if (k in query) return undefined;
    query[k] = v;
  }
  return {
    protocol: u.protocol,
    hostname: u.hostname,
    ...(u.port ? { port: Number(u.port) } : {}),
    prefix: u.pathname.slice(0, u.pathname.length - key.length),
    query,
    // As getSignedUrl builds its presigner: the client's config (credentials, sha256, clock skew).
    presigner: new S3RequestPresigner({ ...client.config, signingName: service, region: async () => region }),
    region,
    service,
  };
}

interface SignedRequest {
  protocol: string;
  hostname: string;
  port?: number;
  path: string;
  query?: Record<string, string | string[] | null>;
}

/** The URL of a signed request, written as the SDK writes it (formatUrl: query in insertion order). */
function formatUrl(r: SignedRequest): string {
  const query = Object.entries(r.query ?? {})
    .flatMap(([k, v]) => (v === null ? [escape(k)] : (Array.isArray(v) ? v : [v]).map((x) => `${escape(k)}=${escape(x)}`)))
    .join('&');
  return `${r.protocol}//${r.hostname}${r.port !== undefined ? `:${r.port}` : ''}${r.path}${query ? `?${query}` : ''}`;
}
