/**
 * fanwire behind a real nginx, as deployed (docs/deploy.md): a WebSocket
 * upgrade proxy_pass with X-Forwarded-For. The gateway runs as the CLI in its
 * own process; clients reach nginx from different loopback source addresses
 * (127.0.0.2, 127.0.0.3, ...), nginx reaches the gateway from 127.0.0.1, so
 * with --trust-proxy 127.0.0.1/32 each client should count as itself and
 * without it all of them as nginx.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { getJson, Pub, spawnGateway, Sub, TRANSPORTS, type CliGateway, type Message } from '../helpers.js';
import { describeWithNginx, Nginx } from './nginx.js';

/** The proxy under test, to the gateway on `upstream`: the proxy settings of docs/deploy.md, on loopback ports. */
const proxyConfig = (port: number, upstream: number): string => `
  map $http_upgrade $connection_upgrade {
    default upgrade;
    ''      close;
  }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://127.0.0.1:${upstream};
      proxy_http_version 1.1;
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection $connection_upgrade;
      proxy_set_header Host $host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_read_timeout 300s;
      proxy_send_timeout 300s;
      proxy_buffering off;
    }
  }
`;

const from = (localAddress: string) => ({ localAddress });

async function addresses(gw: CliGateway): Promise<string[]> {
  const { body } = await getJson(`${gw.http}/v1/subscribers?limit=1000`);
  return (body.subscribers as Message[]).map((s) => s.remoteAddress as string).sort();
}

/** A subscriber through nginx that should be refused; resolves with the HTTP status nginx passed on. */
async function refusedStatus(url: string, localAddress: string): Promise<number> {
  const sub = new Sub(`${url}/v1/subscribe`, 'msgpack', from(localAddress));
  const outcome = await sub.hello().then(
    () => 0,
    (err: Error) => Number(/"status":(\d+)/.exec(err.message)?.[1] ?? -1),
  );
  await sub.close();
  return outcome;
}

describeWithNginx('fanwire behind nginx', () => {
  for (const transport of TRANSPORTS) {
    describe(transport, () => {
      let gw: CliGateway | null = null;
      let nginx: Nginx;
      /** A gateway with `args`, and an nginx in front of it (one per test: nginx resolves its upstream at start). */
      const start = async (args: string[]): Promise<CliGateway> => {
        gw = await spawnGateway(['--transport', transport, ...args]);
        const upstream = Number(new URL(gw.http).port);
        nginx = await Nginx.start((port) => proxyConfig(port, upstream));
        return gw;
      };
      afterEach(async () => {
        await nginx?.stop();
        await gw?.stop();
        gw = null;
      });

      it('delivers what is published over WebSocket and POST to a subscriber, and resumes by index, all through nginx', async () => {
        const gw = await start(['--trust-proxy', '127.0.0.1/32', '--log-level', 'debug']);
        const sub = await Sub.open(nginx.url, 'topic=t', 'msgpack', from('127.0.0.2'));
        const pub = await Pub.open(nginx.url, from('127.0.0.5'));
        expect(await pub.send({ topic: 't', payload: 'ws' })).toMatchObject({ type: 'ack', index: 1 });
        const res = await fetch(`${nginx.http}/v1/publish`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ topic: 't', payload: 'post' }) });
        expect(res.status).toBe(200);
        expect(await res.json()).toEqual({ index: 2 });
        await sub.waitForIndex(2);
        expect(sub.events.flatMap((m) => (m.events as Message[]).map((e) => e.payload))).toEqual(['ws', 'post']);

        const back = await Sub.open(nginx.url, `topic=t&index=2&epoch=${sub.messages[0]!.epoch as string}`, 'msgpack', from('127.0.0.3'));
        expect(back.messages[0]).toMatchObject({ type: 'hello', gap: false, index: 2 });
        await back.waitForIndex(2);
        expect(back.indexes).toEqual([2]);
        // The producer's log line names the real client, not nginx.
        expect(gw.logs.find((l) => l.msg === 'publisher connected')).toMatchObject({ remote: '127.0.0.5' });
        await Promise.all([sub.close(), back.close(), pub.close()]);
      });

      it('with --trust-proxy, counts --max-subscribers-per-address per real client and shows real addresses in /v1/subscribers, whatever X-Forwarded-For a client sends', async () => {
        const gw = await start(['--trust-proxy', '127.0.0.1/32', '--max-subscribers-per-address', '1']);
        // A client's own X-Forwarded-For is kept by nginx but sits left of the hop nginx appends: not believed.
        const a = await Sub.open(nginx.url, '', 'msgpack', { ...from('127.0.0.2'), headers: { 'x-forwarded-for': '198.51.100.1' } });
        expect(await refusedStatus(nginx.url, '127.0.0.2')).toBe(429);
        const b = await Sub.open(nginx.url, '', 'msgpack', from('127.0.0.3'));
        expect(await addresses(gw)).toEqual(['127.0.0.2', '127.0.0.3']);
        await Promise.all([a.close(), b.close()]);
      });

      it('without --trust-proxy, counts every client as nginx\'s address', async () => {
        const gw = await start(['--max-subscribers-per-address', '1']);
        const a = await Sub.open(nginx.url, '', 'msgpack', from('127.0.0.2'));
        expect(await refusedStatus(nginx.url, '127.0.0.3')).toBe(429);
        expect(await addresses(gw)).toEqual(['127.0.0.1']);
        await a.close();
      });

      it('closes a subscriber that stops reading with 4001 through nginx, and logs its real address', async () => {
        // Above the high-water mark its cursor pauses; it is dropped once it falls --buffer-size events behind.
        const gw = await start(['--trust-proxy', '127.0.0.1/32', '--buffer-size', '100', '--high-water-bytes', '64KiB']);
        const pub = await Pub.open(nginx.url, from('127.0.0.5'));
        const slow = await Sub.open(nginx.url, 'topic=t', 'msgpack', from('127.0.0.4'));
        slow.ws.pause(); // stops reading: the kernel's and nginx's buffers fill, then the gateway's
        const payload = 'x'.repeat(64 * 1024);
        let dropped = false;
        // Bounded: loopback and nginx buffers hold some MiB; 4000 × 64 KiB is far beyond them.
        for (let published = 1; published <= 4_000 && !dropped; published++) {
          expect((await pub.send({ topic: 't', payload })).type).toBe('ack');
          if (published % 20 === 0) {
            const { body } = await getJson(`${gw.http}/v1/stats`);
            dropped = body.totals.dropped.lagged + body.totals.dropped.backpressure > 0;
          }
        }
        expect(dropped).toBe(true);
        slow.ws.resume(); // read what was queued before the close frame
        const closed = await slow.waitForClose(30_000);
        expect(closed.code).toBe(4001);
        expect(closed.reason).toMatch(/^dropped: .*resume index=\d+ epoch=/);
        expect(gw.logs.find((l) => l.msg === 'subscriber dropped')).toMatchObject({ remote: '127.0.0.4' });
        await pub.close();
      });
    });
  }
});
