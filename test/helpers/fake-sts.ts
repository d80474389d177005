/**
 * A local STS endpoint that answers AssumeRole (https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRole.html)
 * for tests of delegated access: no real STS here. It checks what the real one would refuse (a request not
 * signed with SigV4 by a known key) and records every call, so a test can see what the worker asked for.
 */
import { createHash } from 'node:crypto';
import http, { type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SignatureV4 } from '@smithy/signature-v4';
import { NodeSha256 } from '../../scripts/dev/sigv4-verify.js';

/** One AssumeRole answer: temporary credentials, or an STS error. */
export type StsAnswer =
  | { accessKeyId: string; secretAccessKey: string; sessionToken: string; expiration: Date }
  | { status: number; code: string; message: string };

export interface StsCall {
  params: Record<string, string>;
  /** The access key id of the Authorization header's credential. */
  signedBy: string;
  /** True when the SigV4 signature (service sts) recomputes with that key's secret and covers the body. */
  signatureValid: boolean;
}

export interface FakeSts {
  endpoint: string;
  calls: StsCall[];
  /** Queues answers, used in order; the last one is repeated. */
  answer(...answers: StsAnswer[]): void;
  close(): Promise<void>;
}

const xml = (s: string) => s.replace(/[<>&'"]/g, (c) => `&#${c.charCodeAt(0)};`);

async function checkSignature(req: IncomingMessage, body: string, keys: ReadonlyMap<string, string>, region: string) {
  const m = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/sts\/aws4_request, SignedHeaders=([^,]+), Signature=([0-9a-f]+)$/.exec(
    String(req.headers.authorization ?? ''),
  );
  if (!m) return { signedBy: '', signatureValid: false };
  const [, accessKeyId = '', , scopeRegion, signedHeaders = '', provided] = m;
  const secretAccessKey = keys.get(accessKeyId);
  const amzDate = String(req.headers['x-amz-date'] ?? '');
  const bodyHash = createHash('sha256').update(body).digest('hex');
  if (!secretAccessKey || scopeRegion !== region || req.headers['x-amz-content-sha256'] !== bodyHash) {
    return { signedBy: accessKeyId, signatureValid: false };
  }
  const headers: Record<string, string> = {};
  for (const name of signedHeaders.split(';')) headers[name] = String(req.headers[name] ?? '');
  const d = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(amzDate);
  if (!d) return { signedBy: accessKeyId, signatureValid: false };
  const signingDate = new Date(Date.UTC(+d[1]!, +d[2]! - 1, +d[3]!, +d[4]!, +d[5]!, +d[6]!));
  const signer = new SignatureV4({ credentials: { accessKeyId, secretAccessKey }, region, service: 'sts', sha256: NodeSha256 });
  const signed = await signer.sign(
    { method: req.method ?? 'POST', protocol: 'http:', hostname: '', path: req.url ?? '/', query: {}, headers, body },
    { signingDate, signableHeaders: new Set(Object.keys(headers)) },
  );
  const expected = /Signature=([0-9a-f]+)$/.exec(String(signed.headers.authorization))?.[1];
  return { signedBy: accessKeyId, signatureValid: expected === provided };
}

/** Starts the endpoint; `keys` are the callers' secrets by access key id. */
export async function startFakeSts(keys: ReadonlyMap<string, string>, region: string): Promise<FakeSts> {
  const calls: StsCall[] = [];
  const answers: StsAnswer[] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      void (async () => {
        const params = Object.fromEntries(new URLSearchParams(body));
        const check = await checkSignature(req, body, keys, region);
        calls.push({ params, ...check });
        const answer = answers.length > 1 ? answers.shift()! : answers[0];
        if (!check.signatureValid || !answer || 'status' in answer) {
          const [status, code, message] = !check.signatureValid
            ? [403, 'SignatureDoesNotMatch', 'The request signature we calculated does not match the signature you provided.']
            : answer && 'status' in answer
              ? [answer.status, answer.code, answer.message]
              : [500, 'InternalFailure', 'no answer queued'];
          res.writeHead(status, { 'content-type': 'text/xml' }).end(
            `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>${code}</Code>` +
              `<Message>${xml(message)}</Message></Error><RequestId>fake</RequestId></ErrorResponse>`,
          );
          return;
        }
        res.writeHead(200, { 'content-type': 'text/xml' }).end(
          `<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><AssumeRoleResult><Credentials>` +
            `<AccessKeyId>${xml(answer.accessKeyId)}</AccessKeyId><SecretAccessKey>${xml(answer.secretAccessKey)}</SecretAccessKey>` +
            `<SessionToken>${xml(answer.sessionToken)}</SessionToken><Expiration>${answer.expiration.toISOString()}</Expiration>` +
            `</Credentials><AssumedRoleUser><Arn>${xml(params.RoleArn ?? '')}/${xml(params.RoleSessionName ?? '')}</Arn>` +
            `<AssumedRoleId>AROAFAKE:${xml(params.RoleSessionName ?? '')}</AssumedRoleId></AssumedRoleUser></AssumeRoleResult>` +
            `<ResponseMetadata><RequestId>fake</RequestId></ResponseMetadata></AssumeRoleResponse>`,
        );
      })();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    calls,
    answer: (...more) => {
      answers.splice(0, answers.length, ...more);
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
