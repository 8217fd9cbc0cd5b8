/**
 * Faults: connections that die half-way, and a shutdown under load. What was
 * acked is never lost; what was half-sent is never half-appended; one
 * client's broken socket never disturbs the others.
 */
import { pack } from 'msgpackr';
import { afterEach, describe, expect, it } from 'vitest';
import { Pub, Sub, TRANSPORTS, maskedHeader, rawUpgrade, spawnGateway, startTestGateway, until, type CliGateway, type TestGateway } from '../helpers.js';

for (const transport of TRANSPORTS) {
  describe(`faults (${transport})`, () => {
    let gw: TestGateway | null = null;
    let cli: CliGateway | null = null;
    afterEach(async () => {
      await gw?.stop();
      await cli?.stop();
      gw = null;
      cli = null;
    });

    it('appends nothing of a batch whose producer disconnects half-way through the frame', async () => {
      gw = await startTestGateway({ transport });
      const healthy = await Sub.open(gw.ws);
      const port = Number(new URL(gw.http).port);
      const batch = pack({ events: Array.from({ length: 2000 }, (_, i) => ({ topic: 't', payload: 'x'.repeat(40) + i })) });
      const socket = await rawUpgrade(port, '/v1/publish');
      socket.write(maskedHeader(batch.length));
      socket.write(batch.subarray(0, batch.length >> 1));
      await new Promise((resolve) => setTimeout(resolve, 50)); // let the half frame reach the gateway
      socket.destroy();
      const pub = await Pub.open(gw.ws);
      expect(await pub.send({ topic: 't', payload: 'after' })).toEqual({ type: 'ack', index: 1 });
      await healthy.waitForIndex(1);
      expect(healthy.indexes).toEqual([1]);
      await Promise.all([pub.close(), healthy.close()]);
    });

    it('keeps serving everyone when a subscriber socket is reset in the middle of a write', async () => {
      gw = await startTestGateway({ transport });
      const healthy = await Sub.open(gw.ws);
      const port = Number(new URL(gw.http).port);
      const victim = await rawUpgrade(port, '/v1/subscribe');
      let received = 0;
      victim.on('data', (chunk: Buffer) => {
        received += chunk.length;
        if (received > 256 * 1024) victim.resetAndDestroy(); // RST while frames are still coming
      });
      const pub = await Pub.open(gw.ws);
      const payload = 'y'.repeat(64 * 1024);
      for (let i = 1; i <= 40; i++) expect((await pub.send({ topic: 't', payload })).type).toBe('ack');
      await healthy.waitForIndex(40);
      expect(healthy.indexes).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
      await until(() => gw!.gateway.subscriberCount === 1 || undefined, 'the reset subscriber to be gone');
      await Promise.all([pub.close(), healthy.close()]);
    });

    it('delivers every acked event to every live subscriber before 1001 when SIGTERM arrives under load', async () => {
      cli = await spawnGateway(['--transport', transport, '--heartbeat', '1h']);
      const subs = await Promise.all(Array.from({ length: 5 }, (_, i) => Sub.open(cli!.ws, '', i % 2 ? 'json' : 'msgpack')));
      const pub = await Pub.open(cli.ws);
      const acked: number[] = [];
      let stop = false;
      // A pipelined producer: up to 20 frames in flight, each ack recorded.
      const producing = (async () => {
        const inFlight = new Set<Promise<void>>();
        for (let i = 0; i < 20_000 && !stop && pub.closed === null; i++) {
          const p = pub.send({ topic: 't', payload: i }).then((reply) => {
            if (reply.type === 'ack') acked.push(reply.index as number);
          });
          const tracked = p.finally(() => inFlight.delete(tracked));
          inFlight.add(tracked);
          if (inFlight.size >= 20) await Promise.race(inFlight);
        }
      })();
      await until(() => acked.length >= 500 || undefined, '500 acks');
      const exit = cli.stop(); // SIGTERM while frames are in flight
      for (const s of subs) expect(await s.waitForClose(20_000)).toEqual({ code: 1001, reason: 'shutting down' });
      stop = true;
      expect(await exit).toBe(0);
      await Promise.race([producing, new Promise((resolve) => setTimeout(resolve, 2_000))]);
      expect(acked.length).toBeGreaterThanOrEqual(500);
      for (const s of subs) {
        const got = new Set(s.indexes);
        const missing = acked.filter((index) => !got.has(index));
        expect(missing).toEqual([]);
        // and in order, without gaps, from 1
        expect(s.indexes).toEqual(Array.from({ length: s.indexes.length }, (_, i) => i + 1));
      }
      cli = null;
    });
  });
}
