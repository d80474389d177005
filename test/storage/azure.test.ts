/**
 * The `azure` parts that Azurite cannot show (the shared suite runs the account-key SAS against it):
 * delegated access with a user delegation key. Entra ID and the Get User Delegation Key call cannot run
 * here; the key source is replaced, and what the worker does with a key is checked.
 */
import { randomBytes } from 'node:crypto';
import type { UserDelegationKey } from '@azure/storage-blob';
import { describe, expect, it } from 'vitest';
import { cachedDelegationKeys, createAzureStorage } from '../../src/storage/azure.js';
import type { ResolvedAzureStorage } from '../../src/storage/storage-config.js';

const entry: ResolvedAzureStorage = { id: 'blob', kind: 'azure', account: 'acmeassets', container: 'assets', urlTtlSeconds: 300 };

function fakeKey(expiresOn: Date): UserDelegationKey {
  return {
    signedObjectId: '11111111-2222-3333-4444-555555555555',
    signedTenantId: '66666666-7777-8888-9999-000000000000',
    signedStartsOn: new Date(Date.now() - 60_000),
    signedExpiresOn: expiresOn,
    signedService: 'b',
    signedVersion: '2025-11-05',
    value: randomBytes(32).toString('base64'),
  };
}

describe('azure delegated access (user delegation key)', () => {
  it('signs a read-only, https-only SAS for one blob with the delegation key, fetched once', async () => {
    const calls: [Date, Date][] = [];
    const key = fakeKey(new Date(Date.now() + 6 * 3600_000));
    const storage = createAzureStorage(entry, {
      delegationKeys: async (startsOn, expiresOn) => {
        calls.push([startsOn, expiresOn]);
        return key;
      },
    });
    const before = Date.now();
    const first = await storage.sign({ assetId: 'a', key: 'scans/x y.dcm' });
    await storage.sign({ assetId: 'b', key: 'scans/other.dcm' });
    expect(calls).toHaveLength(1);
    // Asked for a key that starts a little in the past (clock skew) and lasts hours, not one URL.
    expect(calls[0]![0].getTime()).toBeLessThan(before);
    expect(calls[0]![1].getTime() - before).toBeGreaterThanOrEqual(3600_000);

    const u = new URL(first.url);
    expect(`${u.origin}${u.pathname}`).toBe('https://acmeassets.blob.core.windows.net/assets/scans/x%20y.dcm');
    const q = u.searchParams;
    expect(Object.fromEntries(['sp', 'sr', 'spr', 'skoid', 'sktid', 'sks', 'skv'].map((p) => [p, q.get(p)]))).toEqual({
      sp: 'r',
      sr: 'b',
      spr: 'https',
      skoid: key.signedObjectId,
      sktid: key.signedTenantId,
      sks: 'b',
      skv: key.signedVersion,
    });
    expect(q.get('sig')).toMatch(/^[A-Za-z0-9+/]{43}=$/);
    expect(first.url).not.toContain(key.value);
    const se = Date.parse(q.get('se')!);
    expect(se).toBeGreaterThan(before + 298_000);
    expect(se).toBeLessThanOrEqual(first.expiresAt!.getTime());
  });

  it('the same blob signed with two delegation keys gets two signatures', async () => {
    const sign = (k: UserDelegationKey) => createAzureStorage(entry, { delegationKeys: async () => k }).sign({ assetId: 'a', key: 'x' });
    const expires = new Date(Date.now() + 3600_000);
    const [a, b] = await Promise.all([sign(fakeKey(expires)), sign(fakeKey(expires))]);
    expect(new URL(a.url).searchParams.get('sig')).not.toBe(new URL(b.url).searchParams.get('sig'));
  });

  it('a refused key request is ACCESS_DENIED; no identity yet is STORAGE_UNAVAILABLE', async () => {
    const failing = (err: object) => createAzureStorage(entry, { delegationKeys: async () => Promise.reject(err) });
    await expect(failing({ statusCode: 403, message: 'AuthorizationPermissionMismatch' }).sign({ assetId: 'a', key: 'x' }))
      .rejects.toMatchObject({ code: 'ACCESS_DENIED', retriable: false });
    await expect(failing(Object.assign(new Error('no credential in the chain'), { name: 'CredentialUnavailableError' })).sign({ assetId: 'a', key: 'x' }))
      .rejects.toMatchObject({ code: 'STORAGE_UNAVAILABLE', retriable: true });
  });
});

describe('cachedDelegationKeys', () => {
  it('reuses a key until it ends within refreshBeforeMs, then fetches a new one', async () => {
    let now = 1_000_000_000_000;
    let fetched = 0;
    const keys = cachedDelegationKeys(
      async () => {
        fetched++;
        return fakeKey(new Date(now + 3600_000));
      },
      { refreshBeforeMs: 10 * 60_000, now: () => now },
    );
    const k1 = await keys();
    now += 45 * 60_000; // 15 minutes left: still good
    expect(await keys()).toBe(k1);
    now += 6 * 60_000; // 9 minutes left: a SAS could outlive it
    const k2 = await keys();
    expect(k2).not.toBe(k1);
    expect(fetched).toBe(2);
  });

  it('shares one fetch among concurrent callers and does not keep a failure', async () => {
    let fetched = 0;
    let fail = true;
    const keys = cachedDelegationKeys(
      async () => {
        fetched++;
        await new Promise((r) => setTimeout(r, 20));
        if (fail) throw new Error('throttled');
        return fakeKey(new Date(Date.now() + 3600_000));
      },
      { refreshBeforeMs: 60_000 },
    );
    const results = await Promise.allSettled([keys(), keys(), keys()]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected', 'rejected']);
    expect(fetched).toBe(1);
    fail = false;
    const [a, b] = await Promise.all([keys(), keys()]);
    expect(a).toBe(b);
    expect(fetched).toBe(2);
  });
});
