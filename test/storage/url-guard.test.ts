/**
 * The SSRF guard for `url` sources. Address classification is a table (no network); the refusal paths
 * run real requests against servers on loopback only, with names that resolve to loopback. No byte of
 * these tests leaves the machine.
 */
import http, { type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDownloader, maxRedirects } from '../../src/storage/download.js';
import { fetchForExtraction } from '../../src/storage/ranged/ranged-read.js';
import { answerObject, smallWav, startObjectServer, type ObjectServer } from '../helpers/object-server.js';
import { TempDir } from '../../src/storage/temp-dir.js';
import { loadConfig } from '../../src/config.js';
import { createUrlGuard, isPrivateAddress, parseAllowedHost } from '../../src/storage/url-guard.js';
import { freshTempDir } from '../helpers/services.js';

describe('isPrivateAddress', () => {
  it.each([
    // IPv4: this network, private, loopback, link-local (cloud metadata), CGNAT, documentation, multicast
    ['0.0.0.0'], ['10.1.2.3'], ['127.0.0.1'], ['127.255.255.254'], ['169.254.169.254'], ['169.254.0.1'],
    ['100.64.0.1'], ['100.127.255.255'], ['172.16.0.1'], ['172.31.255.255'], ['192.168.1.1'], ['192.0.0.170'],
    ['192.0.2.1'], ['198.18.0.1'], ['198.51.100.7'], ['203.0.113.9'], ['224.0.0.1'], ['239.255.255.250'],
    ['255.255.255.255'],
    // IPv6: unspecified, loopback, unique local, link-local, site-local, multicast, documentation
    ['::'], ['::1'], ['fc00::1'], ['fd12:3456::1'], ['fe80::1'], ['fe80::1%eth0'], ['febf::1'], ['fec0::1'], ['ff02::1'],
    ['2001:db8::1'],
    // IPv4 inside IPv6: mapped (both spellings), compatible, translated, NAT64 (well-known and local), 6to4, Teredo
    ['::ffff:127.0.0.1'], ['::ffff:7f00:1'], ['::ffff:169.254.169.254'], ['::ffff:a9fe:a9fe'], ['::ffff:10.0.0.1'],
    ['::127.0.0.1'], ['::ffff:0:127.0.0.1'], ['64:ff9b::7f00:1'], ['64:ff9b::127.0.0.1'], ['64:ff9b:1::a00:1'],
    ['2002:7f00:1::1'], ['2001:0:4136:e378:8000:63bf:3fff:fdd2'],
    // Not an address at all: never let it through as "public".
    ['localhost'], ['not an ip'], [''],
  ])('%s is not public', (address) => {
    expect(isPrivateAddress(address)).toBe(true);
  });

  it.each([['8.8.8.8'], ['1.1.1.1'], ['100.63.255.255'], ['100.128.0.1'], ['172.15.255.255'], ['172.32.0.1'], ['2001:4860:4860::8888'], ['2606:4700:4700::1111'], ['::ffff:8.8.8.8']])(
    '%s is public',
    (address) => {
      expect(isPrivateAddress(address)).toBe(false);
    },
  );
});

describe('guard.check', () => {
  const guard = createUrlGuard([]);

  it.each([['file:///etc/passwd'], ['ftp://example.com/x'], ['gopher://127.0.0.1:70/_'], ['data:text/plain,hi'], ['javascript:alert(1)']])(
    'refuses the scheme of %s',
    async (url) => {
      await expect(guard.check(new URL(url))).rejects.toMatchObject({ code: 'URL_NOT_ALLOWED', retriable: false });
    },
  );

  it.each([['http://user:pass@8.8.8.8/x'], ['https://user@8.8.8.8/x'], ['https://:secret@8.8.8.8/x']])('refuses credentials in %s', async (url) => {
    const err = await guard.check(new URL(url)).catch((e: unknown) => e as Error);
    expect(err).toMatchObject({ code: 'URL_NOT_ALLOWED' });
    expect((err as Error).message).not.toMatch(/pass|secret/);
  });

  it.each([['http://127.0.0.1/'], ['http://[::1]/'], ['http://169.254.169.254/latest/meta-data/'], ['http://[::ffff:7f00:1]/'], ['http://[64:ff9b::7f00:1]/'], ['http://0x7f000001/'], ['http://2130706433/'], ['http://0177.0.0.1/'], ['http://127.1/']])(
    'refuses the address literal %s without resolving anything',
    async (url) => {
      await expect(guard.check(new URL(url))).rejects.toMatchObject({ code: 'URL_NOT_ALLOWED' });
    },
  );

  it('refuses a name that resolves to loopback', async () => {
    await expect(guard.check(new URL('http://localhost:1/'))).rejects.toMatchObject({ code: 'URL_NOT_ALLOWED', message: expect.stringMatching(/URL_ALLOWED_HOSTS/) });
  });

  it('lets a name the operator allowed through, whatever it resolves to', async () => {
    const allowing = createUrlGuard(['localhost', '127.0.0.1', '[::1]']);
    await expect(allowing.check(new URL('http://localhost:1/'))).resolves.toBeUndefined();
    await expect(allowing.check(new URL('http://LOCALHOST:1/'))).resolves.toBeUndefined();
    await expect(allowing.check(new URL('http://127.0.0.1:1/'))).resolves.toBeUndefined();
    await expect(allowing.check(new URL('http://[::1]:1/'))).resolves.toBeUndefined();
    // Allowing one name allows that name only.
    await expect(allowing.check(new URL('http://127.0.0.2:1/'))).rejects.toMatchObject({ code: 'URL_NOT_ALLOWED' });
  });
});

describe('URL_ALLOWED_HOSTS entries: host, or host:port', () => {
  it.each([
    ['storage.local', { host: 'storage.local' }],
    ['Storage.Local:9000', { host: 'storage.local', port: 9000 }],
    ['127.0.0.1:6379', { host: '127.0.0.1', port: 6379 }],
    ['[::1]', { host: '::1' }],
    ['[::1]:8080', { host: '::1', port: 8080 }],
    ['::1', { host: '::1' }],
    ['fd00::2', { host: 'fd00::2' }],
  ])('%s is %o', (entry, expected) => {
    expect(parseAllowedHost(entry)).toEqual(expected);
  });

  it.each([['http://storage.local'], ['storage.local/path'], ['host:0'], ['host:65536'], ['host:'], ['user@host'], ['[::1]:x'], ['a:1:2']])(
    '%s is refused',
    (entry) => {
      expect(parseAllowedHost(entry)).toBeUndefined();
    },
  );

  it('the configuration refuses an entry that is not host or host:port, naming the variable', () => {
    expect(() => loadConfig({ URL_ALLOWED_HOSTS: 'ok.local:9000,http://bad.local/' })).toThrow(/URL_ALLOWED_HOSTS/);
    expect(loadConfig({ URL_ALLOWED_HOSTS: 'a.local, [::1]:8080 ,127.0.0.1:9000' }).download.allowedHosts).toEqual(['a.local', '[::1]:8080', '127.0.0.1:9000']);
  });

  it('host:port allows that port only, a bare host every port', async () => {
    const guard = createUrlGuard(['127.0.0.1:9000', 'localhost', '[::1]:443']);
    await expect(guard.check(new URL('http://127.0.0.1:9000/x'))).resolves.toBeUndefined();
    await expect(guard.check(new URL('http://127.0.0.1:6379/'))).rejects.toMatchObject({ code: 'URL_NOT_ALLOWED' });
    // No port in the URL: the scheme's default is the port checked.
    await expect(guard.check(new URL('http://127.0.0.1/'))).rejects.toMatchObject({ code: 'URL_NOT_ALLOWED' });
    await expect(guard.check(new URL('https://[::1]/'))).resolves.toBeUndefined();
    await expect(guard.check(new URL('http://[::1]/'))).rejects.toMatchObject({ code: 'URL_NOT_ALLOWED' });
    await expect(guard.check(new URL('http://localhost:6379/'))).resolves.toBeUndefined();
  });
});

describe('downloads through the guard (loopback servers only)', () => {
  const tmp = freshTempDir();
  let temp: TempDir;
  let target: Server;
  let redirector: Server;
  let targetPort = 0;
  let redirectorPort = 0;
  const limits = { maxBytes: 1_000_000, timeoutMs: 10_000, stallTimeoutMs: 5_000 };
  let targetHits = 0;

  beforeAll(async () => {
    temp = await TempDir.create(tmp.dir);
    target = http.createServer((_req, res) => {
      targetHits++;
      res.end('secret internal data');
    });
    // /to?u=<url> redirects to u; /hops/<n> redirects n more times to itself, then serves bytes.
    redirector = http.createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://x');
      if (url.pathname === '/to') return res.writeHead(302, { location: url.searchParams.get('u') ?? '/' }).end();
      const hops = /^\/hops\/(\d+)$/.exec(url.pathname);
      if (hops) {
        const n = Number(hops[1]);
        if (n > 0) return res.writeHead(301, { location: `/hops/${n - 1}` }).end();
        return res.end('arrived');
      }
      res.writeHead(404).end();
    });
    await Promise.all([target, redirector].map((s) => new Promise<void>((r) => s.listen(0, '127.0.0.1', r))));
    targetPort = (target.address() as AddressInfo).port;
    redirectorPort = (redirector.address() as AddressInfo).port;
  });

  afterAll(async () => {
    await temp?.close();
    await Promise.all([target, redirector].map((s) => new Promise((r) => s?.close(r))));
    tmp.remove();
  });

  const download = (allowed: string[], url: string) => {
    const downloader = createDownloader(createUrlGuard(allowed));
    return downloader.download(url, temp, limits).finally(() => downloader.close());
  };

  it('follows a redirect between allowed hosts', async () => {
    const file = await download(['127.0.0.1'], `http://127.0.0.1:${redirectorPort}/hops/2`);
    expect(file.sizeBytes).toBe('arrived'.length);
    await temp.remove(file.path);
  });

  it('refuses a redirect from an allowed host to a loopback name that is not allowed, before connecting', async () => {
    const before = targetHits;
    const to = encodeURIComponent(`http://localhost:${targetPort}/`);
    await expect(download(['127.0.0.1'], `http://127.0.0.1:${redirectorPort}/to?u=${to}`)).rejects.toMatchObject({ code: 'URL_NOT_ALLOWED' });
    expect(targetHits).toBe(before);
  });

  it.each([['http://[::1]:1/'], ['http://169.254.169.254/latest/meta-data/'], ['file:///etc/passwd'], ['gopher://127.0.0.1:70/']])(
    'refuses a redirect to %s',
    async (location) => {
      await expect(download(['127.0.0.1'], `http://127.0.0.1:${redirectorPort}/to?u=${encodeURIComponent(location)}`)).rejects.toMatchObject({ code: 'URL_NOT_ALLOWED' });
    },
  );

  it(`follows ${maxRedirects} redirects and refuses the next, permanently`, async () => {
    const file = await download(['127.0.0.1'], `http://127.0.0.1:${redirectorPort}/hops/${maxRedirects}`);
    await temp.remove(file.path);
    await expect(download(['127.0.0.1'], `http://127.0.0.1:${redirectorPort}/hops/${maxRedirects + 1}`)).rejects.toMatchObject({
      code: 'URL_NOT_ALLOWED',
      retriable: false,
    });
  });

  it('with host:port allowed, a redirect to another port of that host (Redis at 6379, say) is refused before connecting', async () => {
    const before = targetHits;
    const allowed = [`127.0.0.1:${redirectorPort}`];
    const file = await download(allowed, `http://127.0.0.1:${redirectorPort}/hops/1`);
    expect(file.sizeBytes).toBe('arrived'.length);
    await temp.remove(file.path);
    const to = encodeURIComponent(`http://127.0.0.1:${targetPort}/`);
    await expect(download(allowed, `http://127.0.0.1:${redirectorPort}/to?u=${to}`)).rejects.toMatchObject({ code: 'URL_NOT_ALLOWED', retriable: false });
    await expect(download(allowed, `http://127.0.0.1:${targetPort}/`)).rejects.toMatchObject({ code: 'URL_NOT_ALLOWED' });
    expect(targetHits).toBe(before);
  });

  it('refuses a host that resolves to loopback unless allowed, and fetches it when allowed', async () => {
    const before = targetHits;
    await expect(download([], `http://localhost:${targetPort}/`)).rejects.toMatchObject({ code: 'URL_NOT_ALLOWED' });
    expect(targetHits).toBe(before);
    const file = await download(['localhost'], `http://localhost:${targetPort}/`);
    expect(file.sizeBytes).toBe('secret internal data'.length);
    await temp.remove(file.path);
  });

  it('the connection’s own lookup refuses private answers too (DNS rebinding after the check)', async () => {
    // The check alone would pass an allowed name; the connection's lookup is what a rebinding name meets.
    const guard = createUrlGuard([]);
    const answer = await new Promise<Error | null>((resolve) => guard.lookup('localhost', { all: true }, (err) => resolve(err)));
    expect(answer).toMatchObject({ code: 'URL_NOT_ALLOWED' });
  });

  it('leaves no file behind after any refusal', () => {
    expect(tmp.files()).toEqual([]);
  });
});

describe('ranged reads of url sources through the guard (loopback servers only)', () => {
  const tmp = freshTempDir();
  let temp: TempDir;
  let store: ObjectServer;
  let target: ObjectServer;
  const limits = { maxBytes: 10_000_000, timeoutMs: 10_000, stallTimeoutMs: 5_000 };
  const wav = smallWav(200_000);

  beforeAll(async () => {
    temp = await TempDir.create(tmp.dir);
    [store, target] = await Promise.all([startObjectServer(), startObjectServer()]);
    target.handle = (_req, res) => void res.end('secret internal data');
  });

  afterAll(async () => {
    await temp?.close();
    await Promise.all([store?.close(), target?.close()]);
    tmp.remove();
  });

  /** fetchForExtraction through a guarded downloader that allows the store's host:port only. */
  const ranged = async (path: string) => {
    const downloader = createDownloader(createUrlGuard([`127.0.0.1:${store.port}`]));
    try {
      return await fetchForExtraction(downloader, `${store.origin}${path}`, temp, limits, 0, 512);
    } finally {
      await downloader.close();
    }
  };

  it('an allowed server is read by ranges (partial), every request checked', async () => {
    store.requests.length = 0;
    store.handle = (req, res) => answerObject(req, res, { body: wav, etag: '"w"' });
    const file = await ranged('/a.wav');
    expect(file.sha256Scope).toBe('partial');
    expect(file.bytesFetched).toBeLessThan(wav.length / 4);
    await temp.remove(file.path);
    expect(store.requests.length).toBeGreaterThan(1);
    expect(store.requests.every((r) => r.range !== undefined)).toBe(true);
  });

  it('a later range redirected to a port not allowed is refused before connecting', async () => {
    const before = target.requests.length;
    store.handle = (req, res, n) => {
      if (n > 0 && req.headers.range !== 'bytes=0-511') return void res.writeHead(302, { location: `${target.origin}/internal` }).end();
      answerObject(req, res, { body: wav, etag: '"w"' });
    };
    store.requests.length = 0;
    await expect(ranged('/b.wav')).rejects.toMatchObject({ code: 'URL_NOT_ALLOWED', retriable: false });
    expect(target.requests.length).toBe(before);
    expect(tmp.files()).toEqual([]);
  });

  it('a server that answers 200 to a Range request is read once, whole', async () => {
    store.requests.length = 0;
    store.handle = (_req, res) => void res.writeHead(200, { 'content-length': wav.length }).end(wav);
    const file = await ranged('/c.wav');
    expect([file.sha256Scope, file.sizeBytes]).toEqual(['full', wav.length]);
    await temp.remove(file.path);
    expect(store.requests).toHaveLength(1);
  });

  it('a URL that does not parse is URL_NOT_ALLOWED, not retried', async () => {
    const downloader = createDownloader(createUrlGuard([]));
    await expect(fetchForExtraction(downloader, 'http://[bad', temp, limits, 0)).rejects.toMatchObject({ code: 'URL_NOT_ALLOWED', retriable: false });
    await expect(downloader.download('not a url', temp, limits)).rejects.toMatchObject({ code: 'URL_NOT_ALLOWED' });
    await downloader.close();
  });
});
