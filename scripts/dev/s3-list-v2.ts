/**
 * ListObjectsV2 for the development S3 server, answered from s3rver's version-1 listing.
 *
 * s3rver 3.7 makes V2 continuation tokens with DES, which OpenSSL 3 (Node 17 and later) no longer offers:
 * every V2 listing that is truncated (more objects than MaxKeys, so `MaxKeys: 1` once the bucket holds two)
 * fails with 500 InternalError. Its V1 listing pages by marker and needs no cipher, so the proxy asks for
 * that and rewrites the answer into V2's shape, with a token of its own: the last key, base64url-encoded
 * (S3's tokens are opaque to clients; https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListObjectsV2.html).
 */
import http, { type IncomingHttpHeaders } from 'node:http';
import { xmlEscape } from './s3-relay.js';

/** Whether a request is a ListObjectsV2 call: GET on a bucket (path-style) with list-type=2. */
export function isListObjectsV2(method: string, url: string): boolean {
  const parsed = new URL(url, 'http://s3.local');
  return method === 'GET' && /^\/[^/]+\/?$/.test(parsed.pathname) && parsed.searchParams.get('list-type') === '2';
}

/** Query parameters that are V2's own: replaced by V1's `marker`. */
const v2Only = ['list-type', 'continuation-token', 'start-after', 'fetch-owner'];

/** The V1 request path for a V2 request path: same bucket, prefix, delimiter and page size, paged by marker. */
export function v1ListPath(url: string): string {
  const parsed = new URL(url, 'http://s3.local');
  const query = parsed.searchParams;
  const token = query.get('continuation-token');
  const marker = token !== null ? Buffer.from(token, 'base64url').toString('utf8') : query.get('start-after');
  const v1 = new URLSearchParams([...query].filter(([name]) => !v2Only.includes(name)));
  if (marker) v1.set('marker', marker);
  const search = v1.toString();
  return `${parsed.pathname}${search ? `?${search}` : ''}`;
}

const xmlEntities: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

function xmlUnescape(text: string): string {
  return text.replace(/&(#x[0-9a-f]+|#\d+|amp|lt|gt|quot|apos);/gi, (_, entity: string) => {
    if (entity[0] !== '#') return xmlEntities[entity.toLowerCase()] ?? '';
    const code = entity[1] === 'x' || entity[1] === 'X' ? parseInt(entity.slice(2), 16) : parseInt(entity.slice(1), 10);
    return String.fromCodePoint(code);
  });
}

/** s3rver's V1 ListBucketResult rewritten as V2's: KeyCount, tokens and StartAfter instead of markers. */
export function v2ListBody(v1Xml: string, url: string): string {
  const query = new URL(url, 'http://s3.local').searchParams;
  const keys = [...v1Xml.matchAll(/<Contents>[\s\S]*?<Key>([\s\S]*?)<\/Key>/g)].map((m) => xmlUnescape(m[1] ?? ''));
  const truncated = /<IsTruncated>true<\/IsTruncated>/.test(v1Xml);
  const nextMarker = /<NextMarker>([\s\S]*?)<\/NextMarker>/.exec(v1Xml)?.[1];
  const last = nextMarker !== undefined ? xmlUnescape(nextMarker) : keys.at(-1);
  const token = query.get('continuation-token');
  const startAfter = query.get('start-after');
  const v2Fields = [
    token !== null ? `<ContinuationToken>${xmlEscape(token)}</ContinuationToken>` : '',
    token === null && startAfter ? `<StartAfter>${xmlEscape(startAfter)}</StartAfter>` : '',
    truncated && last !== undefined ? `<NextContinuationToken>${Buffer.from(last).toString('base64url')}</NextContinuationToken>` : '',
    `<KeyCount>${keys.length}</KeyCount>`,
  ].join('');
  return v1Xml
    .replace(/<Marker>[\s\S]*?<\/Marker>|<Marker\/>/, '')
    .replace(/<NextMarker>[\s\S]*?<\/NextMarker>/, '')
    .replace(/(<\/Name>)/, `$1${v2Fields}`);
}

/** The answer to a V2 listing, from s3rver's V1 listing on loopback `port`; errors are passed on as they are. */
export function listObjectsV2(
  url: string,
  headers: IncomingHttpHeaders,
  s3rver: { port: number; agent: http.Agent },
): Promise<{ status: number; contentType: string; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const request = { host: '127.0.0.1', port: s3rver.port, method: 'GET', path: v1ListPath(url), headers, agent: s3rver.agent };
    http
      .request(request, (reply) => {
        const chunks: Buffer[] = [];
        reply.on('data', (chunk: Buffer) => chunks.push(chunk));
        reply.on('error', reject);
        reply.on('end', () => {
          const status = reply.statusCode ?? 502;
          const v1 = Buffer.concat(chunks);
          resolve({
            status,
            contentType: String(reply.headers['content-type'] ?? 'application/xml'),
            body: status === 200 ? Buffer.from(v2ListBody(v1.toString('utf8'), url)) : v1,
          });
        });
      })
      .on('error', reject)
      .end();
  });
}
