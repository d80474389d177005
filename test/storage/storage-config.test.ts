/**
 * Storage entries of every kind (docs/contract.md §2): what the schema accepts, and how the secrets they name
 * are read. A secret that is set but unusable fails with the variable's name, never its content.
 */
import { generateKeyPairSync } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { StoragesSchema, resolveStorage, type StorageConfig } from '../../src/storage/storage-config.js';
import { freshTempDir } from '../helpers/services.js';

const tmp = freshTempDir();
afterAll(() => tmp.remove());

const privateKey = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
const keyJson = JSON.stringify({ type: 'service_account', project_id: 'p', client_email: 'r@p.iam.gserviceaccount.com', private_key: privateKey });
const keyBody = privateKey.split('\n')[3]!;

const parse = (entries: unknown[]) => StoragesSchema.parse(entries);

describe('storage entries', () => {
  it('the contract example parses, and each entry resolves its secrets from the environment', () => {
    const file = path.join(tmp.dir, 'key.json');
    writeFileSync(file, keyJson);
    const config = loadConfig({
      AZURE_ACCOUNT_KEY: 'c2VjcmV0LWFjY291bnQta2V5',
      GCS_KEY_FILE: file,
      SIGNER_TOKEN: 'tok',
      STORAGES: JSON.stringify([
        { id: 'main', kind: 's3', bucket: 'assets', region: 'eu-central-1', endpoint: 'http://127.0.0.1:9000', forcePathStyle: true, urlTtlSeconds: 300 },
        { id: 'hub', kind: 'signer', url: 'https://backend.internal/asset-urls', tokenEnv: 'SIGNER_TOKEN' },
        { id: 'blob', kind: 'azure', account: 'acme', container: 'assets', endpoint: 'https://acme.blob.core.windows.net', accountKeyEnv: 'AZURE_ACCOUNT_KEY' },
        { id: 'gcp', kind: 'gcs', bucket: 'assets', credentialsFileEnv: 'GCS_KEY_FILE' },
        { id: 'customer', kind: 's3', bucket: 'their-bucket', roleArn: 'arn:aws:iam::123456789012:role/asset-reader', externalId: 'tenant-42' },
        { id: 'delegated', kind: 'azure', account: 'theirs', container: 'media' },
      ]),
    });
    const byId = Object.fromEntries(config.storages.map((s) => [s.id, s]));
    expect(byId.blob).toMatchObject({ kind: 'azure', accountKey: 'c2VjcmV0LWFjY291bnQta2V5', urlTtlSeconds: 300 });
    expect(byId.gcp).toMatchObject({ kind: 'gcs', serviceAccount: { client_email: 'r@p.iam.gserviceaccount.com', private_key: privateKey, project_id: 'p' } });
    expect(byId.customer).toMatchObject({ kind: 's3', roleArn: 'arn:aws:iam::123456789012:role/asset-reader', externalId: 'tenant-42' });
    expect(byId.delegated).not.toHaveProperty('accountKey');
  });

  it('gcs: the key may come inline from a variable', () => {
    const [entry] = parse([{ id: 'g', kind: 'gcs', bucket: 'bkt', credentialsJsonEnv: 'GCS_KEY_JSON' }]);
    expect(resolveStorage(entry!, { GCS_KEY_JSON: keyJson })).toMatchObject({ storage: { serviceAccount: { private_key: privateKey } } });
    expect(resolveStorage(entry!, {})).toEqual({ missing: 'GCS_KEY_JSON' });
  });

  it('gcs: exactly one of credentialsFileEnv and credentialsJsonEnv', () => {
    expect(StoragesSchema.safeParse([{ id: 'g', kind: 'gcs', bucket: 'bkt' }]).success).toBe(false);
    expect(StoragesSchema.safeParse([{ id: 'g', kind: 'gcs', bucket: 'bkt', credentialsFileEnv: 'A', credentialsJsonEnv: 'B' }]).success).toBe(false);
  });

  it('gcs: an unreadable or malformed key fails naming the variable, never quoting the key', () => {
    const [fileEntry, jsonEntry] = parse([
      { id: 'g1', kind: 'gcs', bucket: 'bkt', credentialsFileEnv: 'GCS_KEY_FILE' },
      { id: 'g2', kind: 'gcs', bucket: 'bkt', credentialsJsonEnv: 'GCS_KEY_JSON' },
    ]) as [StorageConfig, StorageConfig];
    expect(() => resolveStorage(fileEntry, { GCS_KEY_FILE: path.join(tmp.dir, 'absent.json') })).toThrow(/GCS_KEY_FILE: cannot read the key file it names \(ENOENT\), for storage "g1"/);
    // A PEM pasted where JSON belongs: JSON.parse's own message would quote it.
    const attempt = () => resolveStorage(jsonEntry, { GCS_KEY_JSON: privateKey });
    expect(attempt).toThrow(/GCS_KEY_JSON: not JSON, for storage "g2"/);
    try {
      attempt();
    } catch (err) {
      expect(`${(err as Error).message}${(err as Error).stack}`).not.toContain(keyBody);
    }
    expect(() => resolveStorage(jsonEntry, { GCS_KEY_JSON: JSON.stringify({ client_email: 'x@y' }) })).toThrow(/no private_key/);
  });

  it('azure: names must follow Azure’s rules; a missing key variable is reported', () => {
    expect(StoragesSchema.safeParse([{ id: 'a', kind: 'azure', account: 'Acme_Assets', container: 'assets' }]).success).toBe(false);
    expect(StoragesSchema.safeParse([{ id: 'a', kind: 'azure', account: 'acme', container: 'Assets' }]).success).toBe(false);
    const [entry] = parse([{ id: 'a', kind: 'azure', account: 'acme', container: 'assets', accountKeyEnv: 'AZ_KEY' }]);
    expect(resolveStorage(entry!, {})).toEqual({ missing: 'AZ_KEY' });
  });
});
