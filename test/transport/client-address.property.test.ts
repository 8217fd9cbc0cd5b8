/**
 * Property-based (fast-check): whatever X-Forwarded-For a client sends, it
 * cannot choose its address bucket. From an untrusted peer the header is
 * ignored; from a trusted peer the result is a trusted address only when
 * every hop the walk may believe is trusted, and it is always the peer or one
 * of the hops, never garbage. The failing seed is printed by fast-check.
 */
import { isIP } from 'node:net';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TrustedProxies } from '../../src/transport/index.js';

const proxies = new TrustedProxies(['10.0.0.0/8', '127.0.0.1', 'fd00::/8']);
const trusted = fc.oneof(
  fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255)).map(([a, b, c]) => `10.${a}.${b}.${c}`),
  fc.constant('127.0.0.1'),
  fc.constant('::ffff:10.1.2.3'),
  fc.nat(0xffff).map((n) => `fd00::${n.toString(16)}`),
);
const untrusted = fc.oneof(
  fc.tuple(fc.integer({ min: 11, max: 126 }), fc.nat(255), fc.nat(255), fc.nat(255)).map(([a, b, c, d]) => `${a}.${b}.${c}.${d}`),
  fc.nat(0xffff).map((n) => `2001:db8::${n.toString(16)}`),
  fc.constant('::ffff:192.0.2.1'),
);
const garbage = fc.oneof(fc.constant('unknown'), fc.constant(''), fc.constant(' '), fc.string({ maxLength: 12 }).filter((s) => !s.includes(',') && !/^[\d.:[\]a-f]*$/i.test(s.trim())));
const hop = fc.oneof(trusted, untrusted, garbage);
const header = fc.array(hop, { maxLength: 8 }).map((hops) => hops.join(', '));

/** The hops a walk from the right may believe: those right of the right-most non-empty hop that is not an address. */
function believable(xff: string): string[] {
  const hops = xff.split(',').map((h) => h.trim()).filter((h) => h !== '');
  let from = hops.length;
  while (from > 0 && isIP(hops[from - 1]!) !== 0) from--;
  return hops.slice(from);
}

describe('TrustedProxies (property)', () => {
  it('an untrusted peer is always the client, whatever X-Forwarded-For says', () => {
    fc.assert(
      fc.property(untrusted, fc.option(header, { nil: undefined }), (peer, xff) => {
        expect(proxies.clientAddress(peer, xff)).toBe(peer);
      }),
      { numRuns: 2000 },
    );
  });

  it('behind a trusted peer the client is never a trusted address unless every believable hop is trusted', () => {
    fc.assert(
      fc.property(trusted, header, (peer, xff) => {
        const result = proxies.clientAddress(peer, xff);
        const hops = believable(xff);
        if (hops.some((h) => !proxies.trusts(h))) expect(proxies.trusts(result)).toBe(false);
        // Never garbage, never an address nobody named: the peer or one of the believable hops.
        expect([peer, ...hops]).toContain(result);
      }),
      { numRuns: 2000 },
    );
  });
});
