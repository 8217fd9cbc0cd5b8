/**
 * Whose address a connection counts as behind a reverse proxy (--trust-proxy):
 * the table of cases users meet (nginx in front, a chain of proxies, IPv6,
 * IPv4-mapped peers, a client trying to spoof the header). The transports
 * are checked behind a real nginx in test/transport/nginx.test.ts.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { clientAddressOf, TrustedProxies } from '../../src/transport/index.js';
import { getJson, startTestGateway, Sub, TRANSPORTS, type TestGateway } from '../helpers.js';

const proxies = new TrustedProxies(['127.0.0.1/32', '10.0.0.0/8', '::1', 'fd00::/8']);

describe('TrustedProxies', () => {
  describe('#clientAddress', () => {
    const cases: Array<{ desc: string; peer: string; xff: string | undefined; want: string }> = [
      { desc: 'a trusted peer without the header is the client', peer: '127.0.0.1', xff: undefined, want: '127.0.0.1' },
      { desc: 'behind one proxy, the client is the hop it appended', peer: '127.0.0.1', xff: '203.0.113.7', want: '203.0.113.7' },
      { desc: 'hops a client wrote itself left of the real one are ignored', peer: '127.0.0.1', xff: '1.1.1.1, 2.2.2.2, 203.0.113.7', want: '203.0.113.7' },
      { desc: 'trusted hops of a proxy chain are skipped from the right', peer: '10.0.0.2', xff: '198.51.100.1, 203.0.113.7, 10.0.0.9, 10.1.2.3', want: '203.0.113.7' },
      { desc: 'every hop trusted: the left-most', peer: '127.0.0.1', xff: '10.0.0.5, 10.0.0.6', want: '10.0.0.5' },
      { desc: 'an untrusted peer is the client whatever it sends', peer: '203.0.113.9', xff: '10.0.0.5', want: '203.0.113.9' },
      { desc: 'an untrusted peer cannot borrow another client\'s bucket', peer: '203.0.113.9', xff: '198.51.100.1', want: '203.0.113.9' },
      { desc: 'an IPv4-mapped IPv6 peer matches a v4 range', peer: '::ffff:127.0.0.1', xff: '203.0.113.7', want: '203.0.113.7' },
      { desc: 'an IPv4-mapped IPv6 peer outside the ranges is not trusted', peer: '::ffff:192.0.2.1', xff: '203.0.113.7', want: '::ffff:192.0.2.1' },
      { desc: 'IPv6 peer and hops', peer: '::1', xff: '2001:db8::1, fd00::3', want: '2001:db8::1' },
      { desc: 'an IPv4-mapped hop inside a v4 range is skipped', peer: '::1', xff: '2001:db8::1, ::ffff:10.0.0.4', want: '2001:db8::1' },
      { desc: 'several headers, comma-joined, are one list', peer: '127.0.0.1', xff: '1.1.1.1, 203.0.113.7,10.0.0.1', want: '203.0.113.7' },
      { desc: 'empty list elements are skipped', peer: '127.0.0.1', xff: ' , 203.0.113.7, ,', want: '203.0.113.7' },
      { desc: 'bracketed v6 with a port, and v4 with a port, count as their address', peer: '127.0.0.1', xff: '[2001:db8::5]:4711', want: '2001:db8::5' },
      { desc: 'a v4 hop with a port counts as its address', peer: '127.0.0.1', xff: '203.0.113.7:51000', want: '203.0.113.7' },
      { desc: 'garbage left of an untrusted hop is never reached', peer: '127.0.0.1', xff: 'evil, 203.0.113.7', want: '203.0.113.7' },
      { desc: 'garbage as the right-most hop: the peer', peer: '127.0.0.1', xff: '203.0.113.7, not-an-ip', want: '127.0.0.1' },
      { desc: 'garbage behind trusted hops: the last valid hop walked over', peer: '127.0.0.1', xff: '203.0.113.7, unknown, 10.0.0.9, 10.0.0.8', want: '10.0.0.9' },
      { desc: 'an address with garbage around it is garbage', peer: '127.0.0.1', xff: '203.0.113.7x', want: '127.0.0.1' },
      { desc: 'a header of nothing but commas: the peer', peer: '127.0.0.1', xff: ',,', want: '127.0.0.1' },
    ];
    for (const { desc, peer, xff, want } of cases) {
      it(desc, () => {
        expect(proxies.clientAddress(peer, xff)).toBe(want);
      });
    }
  });

  describe('constructor', () => {
    it('accepts v4 and v6 addresses and CIDRs', () => {
      const t = new TrustedProxies(['192.168.0.0/16', '2001:db8::/32', '172.16.0.1', '0.0.0.0/0']);
      expect(t.trusts('192.168.4.4')).toBe(true);
      expect(t.trusts('2001:db8:1::1')).toBe(true);
      expect(t.trusts('2001:db9::1')).toBe(false);
      expect(t.trusts('8.8.8.8')).toBe(true);
    });

    for (const bad of ['10.0.0.0/33', '::/129', '10.0.0.0/', '10.0.0.0/8/8', '10.0.0.0/x', 'localhost', '10.0.0', 'fe80::1%eth0', '']) {
      it(`refuses "${bad}" saying which entry is bad`, () => {
        expect(() => new TrustedProxies([bad])).toThrow(bad === '' ? /is not an IPv4 or IPv6/ : bad);
      });
    }

    it('parses a comma-separated flag value and refuses an empty one', () => {
      expect(TrustedProxies.parse(' 127.0.0.1/32 ,::1,').ranges).toEqual(['127.0.0.1/32', '::1']);
      expect(() => TrustedProxies.parse(' , ')).toThrow(/no address/);
    });
  });
});

describe('clientAddressOf', () => {
  it('without trusted proxies does not read the header at all', () => {
    expect(clientAddressOf('127.0.0.1', () => {
      throw new Error('read the header');
    }, null)).toBe('127.0.0.1');
  });

  it('with trusted proxies reads X-Forwarded-For', () => {
    expect(clientAddressOf('127.0.0.1', (name) => (name === 'x-forwarded-for' ? '203.0.113.7' : undefined), proxies)).toBe('203.0.113.7');
  });
});

for (const transport of TRANSPORTS) {
  describe(`the client address on the ${transport} transport`, () => {
    let gw: TestGateway | null = null;
    afterEach(async () => {
      await gw?.stop();
      gw = null;
    });

    /** remoteAddress of every subscriber in GET /v1/subscribers. */
    const addresses = async (): Promise<string[]> => {
      const { body } = await getJson(`${gw!.http}/v1/subscribers`);
      return (body.subscribers as Array<{ remoteAddress: string }>).map((s) => s.remoteAddress).sort();
    };
    const forwardedFor = (...values: string[]) => ({ headers: { 'x-forwarded-for': values.length === 1 ? values[0]! : values } as Record<string, string> });

    it('behind a trusted peer, is what X-Forwarded-For names (several headers read as one list), for the limit and /v1/subscribers', async () => {
      gw = await startTestGateway({ transport, trustProxy: ['127.0.0.0/8'], maxSubscribersPerAddress: 1 });
      const a = await Sub.open(gw.ws, '', 'msgpack', forwardedFor('198.51.100.1, 203.0.113.7'));
      const b = await Sub.open(gw.ws, '', 'msgpack', forwardedFor('198.51.100.1', '203.0.113.8, 127.0.0.9'));
      expect(await addresses()).toEqual(['203.0.113.7', '203.0.113.8']);
      const again = new Sub(`${gw.ws}/v1/subscribe`, 'msgpack', forwardedFor('203.0.113.7'));
      await expect(again.hello()).rejects.toThrow(/429/);
      await Promise.all([a.close(), b.close()]);
    });

    it('from an untrusted peer, ignores X-Forwarded-For', async () => {
      gw = await startTestGateway({ transport, trustProxy: ['10.0.0.0/8'], maxSubscribersPerAddress: 1 });
      const a = await Sub.open(gw.ws, '', 'msgpack', forwardedFor('203.0.113.7'));
      expect((await addresses())[0]).toMatch(/^(::ffff:)?127\.0\.0\.1$/);
      const spoofer = new Sub(`${gw.ws}/v1/subscribe`, 'msgpack', forwardedFor('203.0.113.8'));
      await expect(spoofer.hello()).rejects.toThrow(/429/);
      await a.close();
    });

    it('without --trust-proxy, is the socket peer whatever the header says', async () => {
      gw = await startTestGateway({ transport });
      const a = await Sub.open(gw.ws, '', 'msgpack', forwardedFor('203.0.113.7'));
      expect((await addresses())[0]).toMatch(/^(::ffff:)?127\.0\.0\.1$/);
      await a.close();
    });
  });
}
