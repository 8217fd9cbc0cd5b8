/**
 * connectPublisher({reconnect: true}): through cut connections and a
 * gateway that shuts down under it, every publish() settles exactly once,
 * with the index of the one append of its frame (idempotencyKey makes the
 * re-sends safe), on every transport. Final errors reject at once and are
 * never re-sent.
 */
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { connectPublisher, type Publisher } from '../../src/client/index.js';
import type { BufferItem, EventBuffer } from '../../src/buffer/index.js';
import type { Event } from '../../src/protocol/index.js';
import { startTestGateway, TcpProxy, TRANSPORTS, until, type TestGateway } from '../helpers.js';

/** payload -> index of the item holding it, for every event `buffer` holds; throws on a payload held twice. */
function appended(buffers: Array<EventBuffer<Event>>): Map<number, number> {
  const out = new Map<number, number>();
  for (const buffer of buffers) {
    for (let item: BufferItem<Event> | null = buffer.headItem(); item !== null; item = item.link.next) {
      for (const event of item.events ?? []) {
        const payload = event.payload as number;
        if (out.has(payload)) throw new Error(`payload ${payload} appended twice (indexes ${out.get(payload)} and ${item.index})`);
        out.set(payload, item.index);
      }
    }
  }
  return out;
}

for (const transport of TRANSPORTS) {
  describe(`publisher with reconnect (${transport})`, () => {
    const cleanup: Array<() => Promise<unknown>> = [];
    afterEach(async () => {
      for (const fn of cleanup.splice(0).reverse()) await fn().catch(() => {});
    });

    it('property: with connections cut at any moments, every publish() resolves once with the index its one append got', async () => {
      await fc.assert(
        fc.asyncProperty(fc.uniqueArray(fc.integer({ min: 1, max: 149 }), { minLength: 1, maxLength: 6 }), async (cuts) => {
          const gw = await startTestGateway({ transport });
          const proxy = await TcpProxy.start(Number(new URL(gw.http).port));
          const publisher = await connectPublisher({ url: proxy.url, reconnect: true, backoff: { initialMs: 5, maxMs: 50 } });
          try {
            const results: Array<Promise<number>> = [];
            for (let i = 1; i <= 150; i++) {
              results.push(publisher.publish({ topic: 't', payload: i }));
              if (cuts.includes(i)) proxy.drop(); // frames in flight, acks lost, the socket gone
              if (i % 10 === 0) await new Promise((resolve) => setTimeout(resolve, 1)); // several frames, several ticks
            }
            const indexes = await Promise.all(results);
            const held = appended([gw.gateway.buffer]);
            expect(held.size).toBe(150);
            for (let i = 1; i <= 150; i++) expect(held.get(i), `payload ${i}`).toBe(indexes[i - 1]);
          } finally {
            await publisher.close();
            await proxy.close();
            await gw.stop();
          }
        }),
        { numRuns: 8 },
      );
    }, 120_000);

    it('re-sends what a stopping gateway did not ack to the gateway that replaces it, each event appended once over both', async () => {
      const first = await startTestGateway({ transport });
      const proxy = await TcpProxy.start(Number(new URL(first.http).port));
      cleanup.push(() => proxy.close(), () => first.stop());
      const publisher: Publisher = await connectPublisher({ url: proxy.url, reconnect: true, backoff: { initialMs: 5, maxMs: 50 } });
      cleanup.push(() => publisher.close());
      const results: Array<Promise<number>> = [];
      let second: TestGateway | null = null;
      for (let i = 1; i <= 200; i++) {
        results.push(publisher.publish({ topic: 't', payload: i }));
        if (i === 100) {
          // A deploy: the first gateway stops (its producers get their replies, then 1001), a new one takes its place.
          const stopping = first.gateway.stop();
          second = await startTestGateway({ transport });
          cleanup.push(() => second!.stop());
          proxy.targetPort = Number(new URL(second.http).port);
          await stopping;
        }
        if (i % 10 === 0) await new Promise((resolve) => setTimeout(resolve, 1));
      }
      const indexes = await Promise.all(results);
      expect(indexes).toHaveLength(200);
      const held = appended([first.gateway.buffer, second!.gateway.buffer]);
      expect(held.size).toBe(200);
      await until(() => second!.gateway.buffer.newestIndex > 0 || undefined, 'the second gateway to take frames');
    }, 60_000);

    it('rejects a frame the gateway refuses (invalid_frame) at once and never sends it again', async () => {
      const gw = await startTestGateway({ transport });
      cleanup.push(() => gw.stop());
      const publisher = await connectPublisher({ url: gw.ws, reconnect: true });
      cleanup.push(() => publisher.close());
      await expect(publisher.publish({ topic: 'no spaces allowed', payload: 1 })).rejects.toMatchObject({ code: 'invalid_frame' });
      expect(await publisher.publish({ topic: 't', payload: 2 })).toBe(1);
      expect((gw.gateway.stats().totals as { publishErrorsByCode: Record<string, number> }).publishErrorsByCode).toEqual({ invalid_frame: 1 });
    });
  });
}
