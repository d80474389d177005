/**
 * A local S3-compatible server for tests and the demo: s3rver stores the objects, and a small HTTP proxy
 * in front of it does what s3rver does not (see docs NOTES on s3rver 3.7): it verifies every SigV4
 * signature (sigv4-verify.ts), answers suffix ranges and truncated ListObjectsV2 listings correctly
 * (s3-list-v2.ts), logs what was fetched, and injects faults on request (s3-relay.ts).
 *
 * s3rver, @smithy/signature-v4 and the AWS SDK are loaded inside {@link startS3Server}, so importing this
 * module costs nothing to code that never starts the server.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { isListObjectsV2, listObjectsV2 } from './s3-list-v2.js';
import { forwardable, relayBody, sendError, type Fault, type RequestLog } from './s3-relay.js';
import { createSigV4Verifier } from './sigv4-verify.js';

export type { Fault, RequestLog } from './s3-relay.js';

/** Options of {@link startS3Server}; every field has a default. */
export interface S3ServerOptions {
  /** Default: random per server. */
  accessKeyId?: string;
  /** Default: random per server. */
  secretAccessKey?: string;
  /** Default: us-east-1. */
  region?: string;
  /** Buckets created at start; the first is {@link S3Server.bucket}. Default: ['assets']. */
  buckets?: string[];
  /** Port of {@link S3Server.endpoint} on 127.0.0.1. Default: 0, a free port. */
  port?: number;
}

/** A running server; call {@link S3Server.close} when done. */
export interface S3Server {
  /** `http://127.0.0.1:<port>`: use with `forcePathStyle: true`. */
  endpoint: string;
  accessKeyId: string;
  secretAccessKey: string;
  region: string;
  /** The first bucket. */
  bucket: string;
  /** s3rver's data directory, removed by {@link S3Server.close}. */
  directory: string;
  /** Writes an object through the verifying proxy with the AWS SDK. */
  putObject(key: string, body: Buffer | string, bucket?: string): Promise<void>;
  deleteObject(key: string, bucket?: string): Promise<void>;
  /** Every request the proxy received, in arrival order. */
  requests: RequestLog[];
  /** Queues a fault; faults apply in the order queued. */
  failNext(fault: Fault): void;
  /** Stops both servers and removes the data directory. */
  close(): Promise<void>;
}

/** The part of s3rver 3.7 used here (the package ships no types). */
interface S3rver {
  run(): Promise<AddressInfo>;
  close(): Promise<void>;
}
type S3rverConstructor = new (options: {
  address: string;
  port: number;
  silent: boolean;
  directory: string;
}) => S3rver;
/** s3rver's account registry: it refuses access keys it does not know, whatever the signature. */
interface S3rverAccount {
  createKeyPair(accessKeyId: string, secretAccessKey: string): void;
  revokeAccessKey(accessKeyId: string): void;
}

/** Starts s3rver and the verifying proxy in front of it, and creates the buckets through the proxy. */
export async function startS3Server(options: S3ServerOptions = {}): Promise<S3Server> {
  // Untyped CommonJS packages: the specifiers are widened to string so the compiler wants no declarations.
  const { default: S3rverClass } = (await import('s3rver' as string)) as { default: S3rverConstructor };
  const { default: accounts } = (await import('s3rver/lib/models/account.js' as string)) as {
    default: { DUMMY_ACCOUNT: S3rverAccount };
  };
  const { S3Client, CreateBucketCommand, PutObjectCommand, DeleteObjectCommand } = await import('@aws-sdk/client-s3');

  const accessKeyId = options.accessKeyId ?? `AK${randomBytes(9).toString('hex').toUpperCase()}`;
  const secretAccessKey = options.secretAccessKey ?? randomBytes(30).toString('base64url');
  const region = options.region ?? 'us-east-1';
  const buckets = options.buckets ?? ['assets'];
  const bucket = buckets[0];
  if (bucket === undefined) throw new Error('startS3Server: buckets must name at least one bucket');

  const directory = await mkdtemp(join(tmpdir(), 's3-server-'));
  const s3rver = new S3rverClass({ address: '127.0.0.1', port: 0, silent: true, directory });
  const { port: s3rverPort } = await s3rver.run();
  accounts.DUMMY_ACCOUNT.createKeyPair(accessKeyId, secretAccessKey);
  const agent = new http.Agent({ keepAlive: true });
  const verify = await createSigV4Verifier({ keys: new Map([[accessKeyId, secretAccessKey]]), region });

  const requests: RequestLog[] = [];
  const faults: Array<Fault & { count: number }> = [];
  const takeFault = (): Fault | undefined => {
    const next = faults[0];
    if (next && --next.count <= 0) faults.shift();
    return next;
  };

  /** Object size from s3rver, to turn `bytes=-N` into an explicit range; undefined if there is none. */
  const objectSize = (path: string): Promise<number | undefined> =>
    new Promise((resolve, reject) => {
      http
        .request({ host: '127.0.0.1', port: s3rverPort, method: 'HEAD', path, agent }, (head) => {
          head.resume();
          const length = Number(head.headers['content-length']);
          resolve(head.statusCode === 200 && Number.isFinite(length) ? length : undefined);
        })
        .on('error', reject)
        .end();
    });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = req.method ?? 'GET';
    const url = req.url ?? '/';
    const path = url.split('?')[0] ?? url;
    const log: RequestLog = { method, path, range: req.headers.range, status: 0, bytesSent: 0 };
    requests.push(log);

    const refusal = await verify({ method, url, headers: req.headers });
    if (refusal) return sendError(req, res, log, refusal.status, refusal.code, refusal.message);
    const fault = takeFault();
    if (fault && 'delayMs' in fault) await sleep(fault.delayMs);
    if (fault && 'status' in fault) {
      const [code, message] = fault.status === 503
        ? ['SlowDown', 'Please reduce your request rate.']
        : ['InternalError', 'We encountered an internal error. Please try again.'];
      return sendError(req, res, log, fault.status, code, message);
    }

    const headers = forwardable(req.headers);
    if (isListObjectsV2(method, url)) {
      req.resume();
      const list = await listObjectsV2(url, headers, { port: s3rverPort, agent });
      log.status = list.status;
      log.bytesSent = list.body.length;
      res.writeHead(list.status, { 'content-type': list.contentType, 'content-length': list.body.length }).end(list.body);
      return;
    }
    // s3rver reads `bytes=-N` as the first N bytes; RFC 9110 §14.1.1 means the last N.
    const suffix = method === 'GET' ? /^bytes=-(\d+)$/.exec(req.headers.range ?? '') : null;
    if (suffix) {
      const size = await objectSize(path);
      const wanted = Number(suffix[1]);
      if (size !== undefined && (wanted === 0 || size === 0)) {
        return sendError(req, res, log, 416, 'InvalidRange', 'The requested range is not satisfiable');
      }
      if (size !== undefined) headers.range = `bytes=${Math.max(0, size - wanted)}-${size - 1}`;
    }

    const forward = (again: boolean) => {
      const upstream = http.request({ host: '127.0.0.1', port: s3rverPort, method, path: url, headers, agent });
      upstream.on('response', (reply) => {
        // s3rver answers a range of an empty object with 206 and a Content-Range it cannot fill, then holds
        // the connection for seconds; S3 answers 416. Do what S3 does.
        if (reply.statusCode === 206 && !/^bytes \d+-\d+\/[1-9]\d*$/.test(String(reply.headers['content-range'] ?? ''))) {
          upstream.removeAllListeners('error').on('error', () => {});
          reply.destroy();
          upstream.destroy();
          return sendError(req, res, log, 416, 'InvalidRange', 'The requested range is not satisfiable');
        }
        log.status = reply.statusCode ?? 502;
        res.writeHead(log.status, forwardable(reply.headers));
        relayBody(reply, res, log, fault).catch(() => res.destroy());
      });
      upstream.on('error', (error) => {
        // A kept-alive connection s3rver closed as it was reused (Node's documented race): a request without
        // a body is sent again, once, on a fresh one; S3 itself does not fail that way.
        if (!again && upstream.reusedSocket && !res.headersSent && (method === 'GET' || method === 'HEAD')) return forward(true);
        if (res.headersSent) res.destroy();
        else sendError(req, res, log, 502, 'InternalError', `s3rver: ${error.message}`);
      });
      // A client that gives up mid-upload must not leave s3rver waiting for the rest.
      req.on('close', () => {
        if (!req.complete) upstream.destroy();
      });
      if (again) upstream.end();
      else req.pipe(upstream);
    };
    forward(false);
  }

  const proxy = http.createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (res.headersSent) return void res.destroy();
      res.writeHead(500, { 'content-type': 'text/plain' }).end(String(error));
    });
  });
  try {
    await new Promise<void>((resolve, reject) => proxy.once('error', reject).listen(options.port ?? 0, '127.0.0.1', resolve));
  } catch (error) {
    // A port in use: nothing may stay behind.
    agent.destroy();
    await s3rver.close();
    accounts.DUMMY_ACCOUNT.revokeAccessKey(accessKeyId);
    await rm(directory, { recursive: true, force: true });
    throw error;
  }
  const endpoint = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;

  const client = new S3Client({ endpoint, region, forcePathStyle: true, credentials: { accessKeyId, secretAccessKey } });
  const close = async (): Promise<void> => {
    client.destroy();
    const proxyClosed = new Promise((resolve) => proxy.close(resolve));
    proxy.closeAllConnections();
    agent.destroy();
    await proxyClosed;
    await s3rver.close();
    accounts.DUMMY_ACCOUNT.revokeAccessKey(accessKeyId);
    await rm(directory, { recursive: true, force: true });
  };
  try {
    for (const name of buckets) await client.send(new CreateBucketCommand({ Bucket: name }));
  } catch (error) {
    await close();
    throw error;
  }

  return {
    endpoint,
    accessKeyId,
    secretAccessKey,
    region,
    bucket,
    directory,
    requests,
    async putObject(key, body, into = bucket) {
      await client.send(new PutObjectCommand({ Bucket: into, Key: key, Body: body }));
    },
    async deleteObject(key, from = bucket) {
      await client.send(new DeleteObjectCommand({ Bucket: from, Key: key }));
    },
    failNext(fault) {
      faults.push({ ...fault, count: fault.count ?? 1 });
    },
    close,
  };
}
