import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { isIP, type LookupFunction } from 'node:net';
import ipaddr from 'ipaddr.js';
import {
  Agent,
  buildConnector,
  fetch,
  type Dispatcher,
  type RequestInit,
  type Response,
} from 'undici';
import type { OutboundAllowList } from '../config/outbound-allow.ts';
import { DEFAULTS } from '../config/defaults.ts';

/** Why the guard refused a destination; `message` names the host, never a credential. */
export class OutboundRefusedError extends Error {
  readonly code = 'ERR_OUTBOUND_REFUSED';
}

/** Limits of every outbound request. */
export interface OutboundOptions {
  /** Operator-admitted hosts and ranges (`OUTBOUND_ALLOW`). Default: none. */
  allow?: OutboundAllowList;
  /** Whole request, connect to last body byte, in ms. Default 5000. */
  timeoutMs?: number;
  /** Largest response body in bytes; larger ones fail mid-stream. Default 1 MiB. */
  maxBytes?: number;
}

/** The one guard of every fetch the server makes on others' behalf (CIMD, `jwks_uri`, ...). */
export interface OutboundGuard {
  /**
   * Whether `url` may be fetched: http(s) only, and its host an admitted name or resolving only to
   * public unicast addresses. Resolves false (never throws) for anything else.
   */
  permits(url: string): Promise<boolean>;
  /**
   * `fetch` through the guard: connects only to checked addresses (the address checked is the
   * address connected to, so a second DNS answer cannot swap in another), never follows
   * redirects, and enforces the time and size limits.
   * @throws OutboundRefusedError (as the cause of undici's `TypeError: fetch failed`) when refused.
   */
  fetch(url: string | URL, init?: RequestInit): Promise<Response>;
  /** Releases pooled connections. */
  close(): Promise<void>;
}

/**
 * Whether an address is out of bounds for outbound requests: everything but global unicast,
 * i.e. loopback, private (RFC 1918), link-local (cloud metadata), unique-local, multicast,
 * broadcast, unspecified, carrier-grade NAT, benchmarking, documentation and other reserved
 * ranges, and the v6 forms that embed a v4 address (v4-mapped, v4-compatible, NAT64, 6to4,
 * Teredo), in any spelling `ipaddr.js` understands (hex, octal, decimal, short forms).
 * Unparseable input counts as forbidden.
 */
export function isForbiddenAddress(address: string): boolean {
  const bare = address.replace(/^\[(.*)\]$/, '$1');
  if (!ipaddr.isValid(bare)) return true;
  // process() turns v4-mapped and dotted v4-compatible v6 into the v4 address they carry.
  const parsed = ipaddr.process(bare);
  // ::/96 (v4-compatible, deprecated) written in hex, e.g. ::7f00:1, is not one ipaddr.js names.
  if (parsed.kind() === 'ipv6' && parsed.match(V4_COMPATIBLE)) return true;
  return parsed.range() !== 'unicast';
}

const V4_COMPATIBLE = ipaddr.parseCIDR('::/96');
// RFC 6761: `localhost` and every name under it are loopback, whatever a resolver says.
const LOCALHOST = /(^|\.)localhost\.?$/i;

/** The guard with its own connection pool; see {@link OutboundGuard}. */
export function createOutboundGuard(opts: OutboundOptions = {}): OutboundGuard {
  const allow = opts.allow ?? { hosts: new Set<string>(), ranges: [] };
  const timeoutMs = opts.timeoutMs ?? DEFAULTS.outboundTimeoutMs;
  const admittedHost = (host: string) => allow.hosts.has(host.toLowerCase().replace(/\.$/, ''));
  const admitted = (address: string) => {
    const parsed = ipaddr.process(address.replace(/^\[(.*)\]$/, '$1'));
    return allow.ranges.some(
      ([range, bits]) => parsed.kind() === range.kind() && parsed.match(range, bits),
    );
  };
  const refused = (address: string) =>
    isForbiddenAddress(address) &&
    !(ipaddr.isValid(address.replace(/^\[(.*)\]$/, '$1')) && admitted(address));

  // Resolution for the sockets: every address of a name is checked, and the socket connects to
  // what this returns, so no later DNS answer is ever used.
  const lookup: LookupFunction = (hostname, options, callback) => {
    if (LOCALHOST.test(hostname) && !admittedHost(hostname)) {
      const refusal = `outbound request to ${hostname} refused: a loopback name`;
      return callback(new OutboundRefusedError(refusal), '', 0);
    }
    dnsLookup(hostname, { ...options, all: true }, (err, addresses: LookupAddress[]) => {
      if (err) return callback(err, '', 0);
      const bad = admittedHost(hostname) ? undefined : addresses.find((a) => refused(a.address));
      if (bad || !addresses.length) {
        return callback(
          new OutboundRefusedError(
            `outbound request to ${hostname} refused: it resolves to a non-public address`,
          ),
          '',
          0,
        );
      }
      if (options.all)
        return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, addresses);
      callback(null, addresses[0]!.address, addresses[0]!.family);
    });
  };
  const connect = buildConnector({ lookup, timeout: timeoutMs } as buildConnector.BuildOptions);
  const dispatcher: Dispatcher = new Agent({
    // Address literals never reach `lookup` (the socket skips resolution), so they are checked here.
    connect(options, callback) {
      const host = options.hostname.replace(/^\[(.*)\]$/, '$1');
      if (isIP(host) && refused(host)) {
        return callback(
          new OutboundRefusedError(
            `outbound request to ${options.hostname} refused: a non-public address`,
          ),
          null,
        );
      }
      return connect(options, callback);
    },
    headersTimeout: timeoutMs,
    bodyTimeout: timeoutMs,
    maxResponseSize: opts.maxBytes ?? DEFAULTS.outboundMaxResponseBytes,
  } as Agent.Options);

  return {
    async permits(url) {
      let parsed: URL;
      try {
        parsed = new URL(url);
      } catch {
        return false;
      }
      if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') return false;
      const host = parsed.hostname.replace(/^\[(.*)\]$/, '$1');
      if (isIP(host)) return !refused(host);
      if (admittedHost(host)) return true;
      return new Promise((resolve) => lookup(host, { all: true }, (err) => resolve(!err)));
    },
    fetch(url, init = {}) {
      const signals = [
        AbortSignal.timeout(timeoutMs),
        ...(init.signal ? [init.signal as AbortSignal] : []),
      ];
      return fetch(url, {
        ...init,
        dispatcher,
        redirect: 'manual',
        signal: AbortSignal.any(signals),
      });
    },
    close: () => dispatcher.close(),
  };
}
