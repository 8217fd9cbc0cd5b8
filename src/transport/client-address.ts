/**
 * Whose address a connection counts as (--trust-proxy): the socket peer, or,
 * when that peer is a trusted reverse proxy, the client it reports in
 * X-Forwarded-For. This file owns the trusted ranges and the one rule both
 * transports apply when they build a request, so the per-address limit,
 * GET /v1/subscribers and the logs all see the same address.
 *
 * The rule, for a peer inside the trusted ranges:
 *
 *   X-Forwarded-For: client, proxy1, proxy2      (each proxy appends its own peer)
 *                      <----- walked from the right, skipping trusted hops
 *   result: the right-most hop that is not trusted; every hop trusted: the left-most.
 *
 * Only the right end of the header can be believed: a client may send any
 * header it likes, and each trusted proxy appends the address it saw, so a
 * hop is vouched for only while everything to its right is trusted. From a
 * peer outside the ranges the header is not read at all.
 *
 * A hop that is not an IP address (garbage, a hostname, `unknown`) ends the
 * walk: the result is the last valid hop walked over (a trusted one), or the
 * peer if the garbage is the right-most hop. It is never a value the client
 * wrote and never a bucket it could pick. Empty list elements are skipped
 * (HTTP list syntax allows them); `[v6]`, `[v6]:port` and `v4:port` hops, as
 * some load balancers write them, count as their address.
 *
 * Matching is node:net's BlockList (v4 and v6 CIDRs; an IPv4-mapped IPv6
 * peer such as `::ffff:127.0.0.1` matches a v4 range). The peer address is
 * returned as the socket gave it, so without --trust-proxy nothing changes.
 */
import { BlockList, isIP } from 'node:net';

export class TrustedProxies {
  private readonly list = new BlockList();
  /** The ranges as given, for messages and logs. */
  readonly ranges: readonly string[];

  /** Throws an Error saying which entry is bad (the CLI names its flag). */
  constructor(ranges: readonly string[]) {
    for (const range of ranges) {
      const slash = range.indexOf('/');
      const address = slash === -1 ? range : range.slice(0, slash);
      const family = isIP(address);
      if (family === 0 || address.includes('%')) throw new Error(`"${range}" is not an IPv4 or IPv6 address or CIDR`);
      const type = family === 4 ? 'ipv4' : 'ipv6';
      if (slash === -1) {
        this.list.addAddress(address, type);
        continue;
      }
      const prefix = range.slice(slash + 1);
      const max = family === 4 ? 32 : 128;
      if (!/^\d{1,3}$/.test(prefix) || Number(prefix) > max) throw new Error(`"${range}": the prefix length must be 0-${max}`);
      this.list.addSubnet(address, Number(prefix), type);
    }
    this.ranges = [...ranges];
  }

  /** Parses a comma-separated list (the flag's value); throws on an empty list or a bad entry. */
  static parse(value: string): TrustedProxies {
    const ranges = value.split(',').map((r) => r.trim()).filter((r) => r !== '');
    if (ranges.length === 0) throw new Error('no address or CIDR given');
    return new TrustedProxies(ranges);
  }

  /** Whether `address` (a valid IP) is a trusted proxy. */
  trusts(address: string): boolean {
    const family = isIP(address);
    return family !== 0 && this.list.check(address, family === 4 ? 'ipv4' : 'ipv6');
  }

  /** The client address for a connection from `peer` carrying `forwardedFor` (all X-Forwarded-For headers, comma-joined). */
  clientAddress(peer: string, forwardedFor: string | undefined): string {
    if (forwardedFor === undefined || !this.trusts(peer)) return peer;
    const hops = forwardedFor.split(',');
    let found = peer;
    for (let i = hops.length - 1; i >= 0; i--) {
      const raw = hops[i]!.trim();
      if (raw === '') continue;
      const hop = addressOf(raw);
      if (hop === null) break;
      found = hop;
      if (!this.trusts(hop)) break;
    }
    return found;
  }
}

/** The IP address a hop names (`a`, `[v6]`, `[v6]:port`, `v4:port`), or null if it names none. */
function addressOf(hop: string): string | null {
  if (isIP(hop) !== 0) return hop;
  const bracketed = /^\[([^\]]+)\](?::\d{1,5})?$/.exec(hop);
  if (bracketed !== null) return isIP(bracketed[1]!) === 6 ? bracketed[1]! : null;
  const withPort = /^([\d.]+):\d{1,5}$/.exec(hop);
  if (withPort !== null) return isIP(withPort[1]!) === 4 ? withPort[1]! : null;
  return null;
}

/**
 * What a transport calls when it builds a request: the peer itself without
 * --trust-proxy (the header is not even read), else the rule above.
 */
export function clientAddressOf(peer: string, header: (name: string) => string | undefined, proxies: TrustedProxies | null): string {
  return proxies === null ? peer : proxies.clientAddress(peer, header('x-forwarded-for'));
}
