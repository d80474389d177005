/**
 * SSRF guard for `url` sources (docs/contract.md §4 URL_NOT_ALLOWED): http and https only, and every address a
 * host resolves to must be public, unless the operator names the host in URL_ALLOWED_HOSTS. The check runs
 * before each request (each redirect hop too) and again inside the connection's DNS lookup, so DNS
 * rebinding (public for the check, private for the connection) is still refused.
 *
 * An URL_ALLOWED_HOSTS entry is `host` (every port) or `host:port` (that port only; IPv6 as `[::1]:8080`):
 * `127.0.0.1` lets a job reach every service on the machine (Redis too), `127.0.0.1:9000` the one meant.
 */
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { lookup as lookupAll } from 'node:dns/promises';
import { BlockList, isIP, type LookupFunction } from 'node:net';
import { StorageUnavailableError, UrlNotAllowedError } from '../errors.js';

/** Ranges that are not the public internet (IANA special-purpose registries, RFC 6890). */
const blocked = new BlockList();
for (const [net, prefix] of [
  ['0.0.0.0', 8], ['10.0.0.0', 8], ['100.64.0.0', 10], ['127.0.0.0', 8], ['169.254.0.0', 16],
  ['172.16.0.0', 12], ['192.0.0.0', 24], ['192.0.2.0', 24], ['192.88.99.0', 24], ['192.168.0.0', 16],
  ['198.18.0.0', 15], ['198.51.100.0', 24], ['203.0.113.0', 24], ['224.0.0.0', 4], ['240.0.0.0', 4],
] as const) {
  blocked.addSubnet(net, prefix, 'ipv4');
}
for (const [net, prefix] of [
  // ::/96 holds the deprecated IPv4-compatible form (::127.0.0.1, RFC 4291 §2.5.5.1) and ::ffff:0:0:0/96 the
  // IPv4-translated one (RFC 2765): neither is the IPv4-mapped form BlockList already folds onto the IPv4 rules.
  ['::', 96], ['::1', 128], ['::ffff:0:0:0', 96], ['64:ff9b::', 96], ['64:ff9b:1::', 48], ['100::', 64], ['2001::', 23],
  ['2001:db8::', 32], ['2002::', 16], ['fc00::', 7], ['fe80::', 10], ['fec0::', 10], ['ff00::', 8],
] as const) {
  blocked.addSubnet(net, prefix, 'ipv6');
}

/** True for loopback, private, link-local, metadata and other non-public addresses (IPv4-mapped too). */
export function isPrivateAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 0) return true;
  // BlockList matches an IPv4-mapped IPv6 address (::ffff:a.b.c.d) against the IPv4 rules.
  return blocked.check(address, family === 4 ? 'ipv4' : 'ipv6');
}

export interface UrlGuard {
  /** Throws URL_NOT_ALLOWED for a scheme or host that may not be fetched. */
  check(url: URL): Promise<void>;
  /** A DNS lookup for the HTTP client that refuses private answers for hosts not allowed. */
  lookup: LookupFunction;
}

/** One URL_ALLOWED_HOSTS entry: a host name or address, and the one port allowed (every port without). */
type AllowedHost = { host: string; port?: number };

const bare = (host: string) => host.toLowerCase().replace(/^\[|\]$/g, '');

/**
 * Parses `host`, `host:port`, `[v6]` or `[v6]:port`; undefined for anything else (a scheme, a path, a port
 * outside 1-65535). A bare IPv6 address without brackets is one host (its colons are not a port).
 */
export function parseAllowedHost(entry: string): AllowedHost | undefined {
  const text = entry.trim();
  if (!text || /[/?#@\s]/.test(text)) return undefined;
  const bracketed = /^\[([0-9a-f:.]+)\](?::(\d{1,5}))?$/i.exec(text);
  const named = /^([^:[\]]+)(?::(\d{1,5}))?$/.exec(text);
  if (!bracketed && !named && isIP(text) !== 6) return undefined;
  const [, host = text, port] = bracketed ?? named ?? [];
  if (port === undefined) return { host: bare(host) };
  const n = Number(port);
  return n >= 1 && n <= 65535 ? { host: bare(host), port: n } : undefined;
}

/** The port a URL connects to: its own, or its scheme's default. */
const portOf = (url: URL): number => (url.port ? Number(url.port) : url.protocol === 'https:' ? 443 : 80);

export function createUrlGuard(allowedHosts: string[]): UrlGuard {
  // config.ts refuses an entry parseAllowedHost cannot read; one that got here anyway allows nothing.
  const entries = allowedHosts.map(parseAllowedHost).filter((e) => e !== undefined);
  /** Without a port: is the host named at all (the DNS lookup sees names only; the check sees the port). */
  const isAllowed = (host: string, port?: number) =>
    entries.some((e) => e.host === bare(host) && (port === undefined || e.port === undefined || e.port === port));

  const refuse = (host: string, address: string) =>
    new UrlNotAllowedError(`host ${host} resolves to a non-public address (${address}); add it to URL_ALLOWED_HOSTS to allow it`);

  const lookup: LookupFunction = (hostname, options, callback) => {
    dnsLookup(hostname, { ...options, all: true }, (err, addresses: LookupAddress[]) => {
      if (err) return callback(err, '', 0);
      if (!isAllowed(hostname)) {
        const bad = addresses.find((a) => isPrivateAddress(a.address));
        if (bad) return callback(refuse(hostname, bad.address) as unknown as NodeJS.ErrnoException, '', 0);
      }
      if (options.all) return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, addresses);
      const first = addresses[0];
      if (!first) return callback(new Error(`no address for ${hostname}`) as NodeJS.ErrnoException, '', 0);
      callback(null, first.address, first.family);
    });
  };

  return {
    lookup,
    async check(url) {
      if (url.protocol !== 'http:' && url.protocol !== 'https:') {
        throw new UrlNotAllowedError(`scheme ${url.protocol} is not allowed (http and https only)`);
      }
      if (url.username || url.password) throw new UrlNotAllowedError('URLs with credentials are not allowed');
      const host = url.hostname.replace(/^\[|\]$/g, '');
      if (isAllowed(host, portOf(url))) return;
      if (isIP(host)) {
        if (isPrivateAddress(host)) throw refuse(host, host);
        return;
      }
      const addresses = await lookupAll(host, { all: true }).catch((err: unknown) => {
        throw new StorageUnavailableError(`host ${host} does not resolve: ${(err as Error).message}`);
      });
      const bad = addresses.find((a) => isPrivateAddress(a.address));
      if (bad) throw refuse(host, bad.address);
    },
  };
}
