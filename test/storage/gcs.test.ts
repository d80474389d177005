/**
 * `gcs` signed URLs checked against Google's V4 algorithm (GOOG4-RSA-SHA256) with the public half of a key
 * made here, as GCS checks them with the service account's public certificate. No request reaches Google.
 */
import dns from 'node:dns';
import { generateKeyPairSync } from 'node:crypto';
import net from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createGcsStorage } from '../../src/storage/gcs.js';
import type { ResolvedGcsStorage } from '../../src/storage/storage-config.js';
import { verifyGoog4 } from '../helpers/gcs-server.js';

const email = 'asset-reader@test-project.iam.gserviceaccount.com';
const pair = () => generateKeyPairSync('rsa', { modulusLength: 2048 });
const key = pair();
const other = pair();
const privatePem = key.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
const keys = new Map([[email, key.publicKey]]);

const entry = (extra: Partial<ResolvedGcsStorage> = {}): ResolvedGcsStorage => ({
  id: 'gcp',
  kind: 'gcs',
  bucket: 'assets-bucket',
  credentialsFileEnv: 'GCS_KEY_FILE',
  urlTtlSeconds: 300,
  serviceAccount: { client_email: email, private_key: privatePem, project_id: 'test-project' },
  ...extra,
});

/** The request a client makes with this URL, as the server sees it. */
const asRequest = (url: string, method = 'GET') => {
  const u = new URL(url);
  return { method, target: `${u.pathname}${u.search}`, host: u.hostname };
};

afterEach(() => vi.restoreAllMocks());

describe('gcs V4 signed URLs', () => {
  it('follow GOOG4-RSA-SHA256: verified with the public key, for this object, this long', async () => {
    const before = Date.now();
    const { url, expiresAt } = await createGcsStorage(entry()).sign({ assetId: 'a', key: 'uploads/a b+c ü.jpg' });
    const u = new URL(url);
    expect(u.origin).toBe('https://storage.googleapis.com');
    expect(u.pathname).toBe('/assets-bucket/uploads/a%20b%2Bc%20%C3%BC.jpg');
    expect(u.searchParams.get('X-Goog-SignedHeaders')).toBe('host');
    expect(u.searchParams.get('X-Goog-Credential')).toMatch(new RegExp(`^${email}/\\d{8}/auto/storage/goog4_request$`));

    const checked = verifyGoog4(asRequest(url), keys);
    expect(checked).toMatchObject({ ok: true, email, expiresInSeconds: 300 });
    if (!checked.ok) return;
    expect(checked.signedAt).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000);
    expect(checked.signedAt + 300_000).toBe(expiresAt!.getTime());
  });

  it('any change to what was signed breaks the signature', async () => {
    const { url } = await createGcsStorage(entry()).sign({ assetId: 'a', key: 'uploads/x.jpg' });
    const edited = (edit: (u: URL) => void) => {
      const u = new URL(url);
      edit(u);
      return verifyGoog4(asRequest(u.href), keys);
    };
    const mismatch = { ok: false, status: 403, code: 'SignatureDoesNotMatch' };
    expect(edited((u) => u.searchParams.set('X-Goog-Expires', '604800'))).toMatchObject(mismatch);
    expect(edited((u) => (u.pathname = '/assets-bucket/uploads/y.jpg'))).toMatchObject(mismatch);
    expect(edited((u) => (u.pathname = '/other-bucket/uploads/x.jpg'))).toMatchObject(mismatch);
    expect(edited((u) => (u.hostname = 'assets-bucket.storage.googleapis.com'))).toMatchObject(mismatch);
    // A read URL is for GET only.
    expect(verifyGoog4(asRequest(url, 'PUT'), keys)).toMatchObject(mismatch);
    // Another key's public half does not verify it.
    expect(verifyGoog4(asRequest(url), new Map([[email, other.publicKey]]))).toMatchObject(mismatch);
  });

  it('an expired URL is refused as GCS does: 400 ExpiredToken', async () => {
    const { url, expiresAt } = await createGcsStorage(entry({ urlTtlSeconds: 60 })).sign({ assetId: 'a', key: 'k' });
    expect(verifyGoog4(asRequest(url), keys, expiresAt!.getTime() - 1_000)).toMatchObject({ ok: true });
    expect(verifyGoog4(asRequest(url), keys, expiresAt!.getTime() + 1_000)).toMatchObject({ ok: false, status: 400, code: 'ExpiredToken' });
  });

  it('a version is signed as the object generation', async () => {
    const { url } = await createGcsStorage(entry()).sign({ assetId: 'a', key: 'k.bin', versionId: '1712345678901234' });
    expect(new URL(url).searchParams.get('generation')).toBe('1712345678901234');
    expect(verifyGoog4(asRequest(url), keys)).toMatchObject({ ok: true });
    const u = new URL(url);
    u.searchParams.set('generation', '1');
    expect(verifyGoog4(asRequest(u.href), keys)).toMatchObject({ ok: false, code: 'SignatureDoesNotMatch' });
  });

  it('signing makes no network call: the RSA signature is local', async () => {
    // Node's own fetch does not go through net.Socket.prototype.connect: watch it too.
    const connect = vi.spyOn(net.Socket.prototype, 'connect');
    const lookup = vi.spyOn(dns, 'lookup');
    const fetchSpy = vi.spyOn(globalThis, 'fetch');
    const storage = createGcsStorage(entry());
    for (let i = 0; i < 3; i++) await storage.sign({ assetId: 'a', key: `k${i}` });
    expect(connect).not.toHaveBeenCalled();
    expect(lookup).not.toHaveBeenCalled();
    expect(fetchSpy).not.toHaveBeenCalled();
  });

  it('a key that cannot sign is ACCESS_DENIED, and the error shows none of it', async () => {
    const marker = 'MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQDmarker';
    const broken = `-----BEGIN PRIVATE KEY-----\n${marker}\n-----END PRIVATE KEY-----\n`;
    const storage = createGcsStorage(entry({ serviceAccount: { client_email: email, private_key: broken } }));
    const err = await storage.sign({ assetId: 'a', key: 'k' }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'ACCESS_DENIED', retriable: false });
    expect(`${(err as Error).message}\n${(err as Error).stack}`).not.toContain(marker);
    expect(JSON.stringify(storage)).not.toContain(marker);
  });
});
