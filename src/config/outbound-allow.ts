import ipaddr from 'ipaddr.js';

/** Hosts and address ranges an operator admits for outbound fetches despite the guard's rules. */
export interface OutboundAllowList {
  /** Lower-case DNS names (no trailing dot) admitted whatever they resolve to. */
  readonly hosts: ReadonlySet<string>;
  /** Address ranges (CIDR; a single address is a /32 or /128) admitted. */
  readonly ranges: ReadonlyArray<readonly [ipaddr.IPv4 | ipaddr.IPv6, number]>;
}

const LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;

/**
 * Parses `OUTBOUND_ALLOW`: comma-separated DNS names (`cimd.internal`), addresses (`10.0.0.7`,
 * `fd00::7`) and CIDR ranges (`10.0.0.0/8`). Empty entries are ignored.
 * @throws TypeError naming the first entry that is none of these.
 */
export function parseOutboundAllow(value: string | undefined): OutboundAllowList {
  const hosts = new Set<string>();
  const ranges: Array<[ipaddr.IPv4 | ipaddr.IPv6, number]> = [];
  for (const raw of (value ?? '').split(',')) {
    const entry = raw
      .trim()
      .toLowerCase()
      .replace(/^\[(.*)\]$/, '$1');
    if (!entry) continue;
    if (entry.includes('/')) {
      try {
        ranges.push(ipaddr.parseCIDR(entry));
      } catch {
        throw new TypeError(`"${raw.trim()}" is not a CIDR range`);
      }
    } else if (
      ipaddr.isValid(entry) &&
      (entry.includes(':') || ipaddr.IPv4.isValidFourPartDecimal(entry))
    ) {
      const address = ipaddr.parse(entry);
      ranges.push([address, address.kind() === 'ipv4' ? 32 : 128]);
    } else if (
      entry
        .replace(/\.$/, '')
        .split('.')
        .every((label) => LABEL.test(label))
    ) {
      hosts.add(entry.replace(/\.$/, ''));
    } else {
      throw new TypeError(`"${raw.trim()}" is not a host name, an address or a CIDR range`);
    }
  }
  return { hosts, ranges };
}
