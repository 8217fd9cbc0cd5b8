import { once } from 'node:events';
import net from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { Pub, Sub, startTestGateway, until, type TestGateway, TRANSPORTS } from '../helpers.js';

for (const transport of TRANSPORTS) {
  describe(`GET /v1/subscribe (${transport})`, () => {
    let gw: TestGateway;
    let pub: Pub;
    const subs: Sub[] = [];
    const open = async (query = '', format: 'msgpack' | 'json' = 'msgpack'): Promise<Sub> => {
      const sub = await Sub.open(gw.ws, query, format);
      subs.push(sub);
      return sub;
    };

    beforeEach(async () => {
      gw = await startTestGateway({ transport, bufferSize: 50 });
      pub = await Pub.open(gw.ws);
    });
    afterEach(async () => {
      await Promise.all(subs.splice(0).map((s) => s.close()));
      await pub.close();
      await gw.stop();
    });

    describe('hello', () => {
      it('comes first, with the epoch, the next index, gap false and the heartbeat interval', async () => {
        await pub.send({ topic: 'a', payload: 1 });
        const sub = await open();
        expect(sub.messages[0]).toEqual({ type: 'hello', epoch: gw.gateway.epoch, index: 2, gap: false, heartbeat: 10 });
      });
    });

    describe('delivery', () => {
      it('gives every subscriber every event in order, one events message per item, with no gaps', async () => {
        // The publisher pipelines into a gateway on this same event loop, so the
        // buffer must hold the whole burst (see FIELD-NOTES on same-loop readers).
        await gw.stop();
        gw = await startTestGateway({ transport, bufferSize: 1_000 });
        pub = await Pub.open(gw.ws);
        const many = await Promise.all(Array.from({ length: 20 }, () => open()));
        const json = await open('', 'json');
        const total = 200;
        for (let i = 0; i < total; i++) {
          // A mix of single events and batches, pipelined.
          if (i % 3 === 0) void pub.send({ events: [{ topic: 't', payload: i }, { topic: 'u', payload: -i }] });
          else void pub.send({ topic: 't', key: `k${i}`, payload: i });
        }
        await pub.send({ topic: 'end', payload: null });
        const expected = Array.from({ length: total + 1 }, (_, i) => i + 1);
        for (const sub of [...many, json]) {
          await sub.waitForIndex(total + 1);
          expect(sub.indexes).toEqual(expected);
        }
        const third = json.events[3]!;
        expect(third).toEqual({
          type: 'events',
          index: 4,
          events: [
            { topic: 't', type: '', key: '', payload: 3 },
            { topic: 'u', type: '', key: '', payload: -3 },
          ],
        });
      });

      it('with batch=1, sends the items ready together as one batch message holding their usual events messages', async () => {
        for (let i = 1; i <= 30; i++) await pub.send(i % 4 === 0 ? { events: [{ topic: 't', payload: i }, { topic: 'u', payload: -i }] } : { topic: 't', key: `k${i}`, payload: i });
        const pairs = [];
        for (const format of ['msgpack', 'json'] as const) {
          // Resuming from 1: everything is ready at once, so the first drain batches all 30.
          pairs.push({ plain: await open('index=1', format), batched: await open('index=1&batch=1', format) });
        }
        for (const { plain, batched } of pairs) {
          await plain.waitForIndex(30);
          await batched.waitForIndex(30);
          expect(plain.messages).toHaveLength(31);
          expect(batched.messages.map((m) => m.type)).toEqual(['hello', 'batch']);
          expect(batched.messages[1]!.messages).toEqual(plain.events);
        }
        // Live, one at a time: a lone item goes out as a plain events message.
        await pub.send({ topic: 't', payload: 31 });
        for (const { plain, batched } of pairs) {
          await plain.waitForIndex(31);
          await batched.waitForIndex(31);
          expect(batched.messages[2]).toEqual({ type: 'events', index: 31, events: [{ topic: 't', type: '', key: '', payload: 31 }] });
          expect(batched.events).toEqual(plain.events);
        }
      });

      it('with batch=1 and a topic:key filter, batches only the matching items, each holding only its matching events', async () => {
        for (let i = 1; i <= 12; i++) await pub.send({ events: [{ topic: 't', key: `k${i % 3}`, payload: i }, { topic: 't', key: 'other', payload: -i }] });
        const batched = await open('index=1&batch=1&topic=t:k1');
        await batched.waitForIndex(10);
        expect(batched.messages.map((m) => m.type)).toEqual(['hello', 'batch']);
        expect(batched.events).toEqual([1, 4, 7, 10].map((i) => ({ type: 'events', index: i, events: [{ topic: 't', type: '', key: 'k1', payload: i }] })));
      });

      it('encodes each item once per filter and format, not once per subscriber', async () => {
        await Promise.all(Array.from({ length: 10 }, () => open()));
        await Promise.all(Array.from({ length: 10 }, () => open('', 'json')));
        const before = (gw.gateway.stats().encodes as number);
        for (let i = 0; i < 5; i++) await pub.send({ topic: 't', payload: i });
        await until(() => subs.every((s) => s.indexes.length === 5), 'delivery');
        expect((gw.gateway.stats().encodes as number) - before).toBe(10); // 5 items x 2 formats
        const totals = () => (gw.gateway.stats() as { totals: { framesDelivered: number } }).totals.framesDelivered;
        expect(totals()).toBe(100); // 20 subscribers x 5 items, counted per drain
        await subs.splice(0, 1)[0]!.close();
        await until(() => gw.gateway.stats().subscribers === 19, 'one subscriber gone');
        expect(totals()).toBe(100); // a closed subscriber's deliveries stay counted
      });
    });

    describe('filters', () => {
      it('delivers only the matching events of an item, by topic, topic:key and filterKeys', async () => {
        const byTopic = await open('topic=orders', 'json');
        const byKey = await open('topic=orders:o-2', 'json');
        const byFilterKey = await open('topic=orders:customer-9', 'json');
        const two = await open('topic=audit&topic=orders:o-1', 'json');
        const star = await open('topic=*&topic=orders', 'json');

        await pub.send({ topic: 'orders', key: 'o-1', payload: 1 });
        await pub.send({
          events: [
            { topic: 'orders', key: 'o-2', payload: 2 },
            { topic: 'audit', payload: 'x' },
            { topic: 'orders', key: 'o-3', filterKeys: ['customer-9'], payload: 3 },
          ],
        });
        await pub.send({ topic: 'other', payload: 4 });
        await pub.send({ topic: 'orders', key: 'o-2', payload: 5 });
        // Item 5 matches every filter, so once each has it, each has all it will get.
        await pub.send({ topic: 'orders', key: 'o-2', filterKeys: ['customer-9', 'o-1'], payload: 'end' });
        for (const s of [byTopic, byKey, byFilterKey, two, star]) await s.waitForIndex(5);
        for (const s of [byTopic, byKey, byFilterKey, two, star]) s.messages.splice(-1); // drop item 5

        const keys = (s: Sub) => s.events.map((m) => [m.index, m.events.map((e: { key: string }) => e.key)]);
        expect(keys(byTopic)).toEqual([
          [1, ['o-1']],
          [2, ['o-2', 'o-3']],
          [4, ['o-2']],
        ]);
        expect(keys(byKey)).toEqual([
          [2, ['o-2']],
          [4, ['o-2']],
        ]);
        expect(keys(byFilterKey)).toEqual([[2, ['o-3']]]);
        expect(byFilterKey.events[0]!.events[0].filterKeys).toEqual(['customer-9']);
        expect(keys(two)).toEqual([
          [1, ['o-1']],
          [2, ['']],
        ]);
        expect(star.indexes).toEqual([1, 2, 3, 4]);
      });

      it('resumes a filtered subscriber from index N with only its items >= N, the buffer filled in before it came', async () => {
        for (let i = 1; i <= 10; i++) await pub.send({ topic: i % 3 === 0 ? 'x' : 'y', key: `k${i}`, payload: i });
        const sub = await open('topic=x&index=4');
        expect(sub.messages[0]).toMatchObject({ type: 'hello', index: 4, gap: false });
        await pub.send({ topic: 'x', payload: 11 });
        await sub.waitForIndex(11);
        expect(sub.indexes).toEqual([6, 9, 11]);
      });

      it('counts a filtered subscriber as caught up to the newest index when nothing new matches it', async () => {
        const sub = await open('topic=rare');
        await pub.send({ topic: 'rare', payload: 1 });
        await sub.waitForIndex(1);
        for (let i = 2; i <= 20; i++) await pub.send({ topic: 'common', payload: i });
        await until(() => (gw.gateway.laggards(1)[0]?.nextIndex === 21 ? true : undefined), 'position 21');
        expect(gw.gateway.laggards(1)[0]).toMatchObject({ nextIndex: 21, lagEvents: 0 });
        expect(sub.indexes).toEqual([1]);
      });
    });

    describe('resume', () => {
      it('resumes from index N with gap false while N is in the buffer, delivering items >= N', async () => {
        for (let i = 1; i <= 10; i++) await pub.send({ topic: 't', payload: i });
        const sub = await open(`index=7&epoch=${gw.gateway.epoch}`);
        expect(sub.messages[0]).toMatchObject({ type: 'hello', index: 7, gap: false });
        await pub.send({ topic: 't', payload: 11 });
        await sub.waitForIndex(11);
        expect(sub.indexes).toEqual([7, 8, 9, 10, 11]);
      });

      it('resuming at the next index to be assigned misses nothing and repeats nothing', async () => {
        for (let i = 1; i <= 3; i++) await pub.send({ topic: 't', payload: i });
        const sub = await open('index=4');
        expect(sub.messages[0]).toMatchObject({ index: 4, gap: false });
        await pub.send({ topic: 't', payload: 4 });
        await sub.waitForIndex(4);
        expect(sub.indexes).toEqual([4]);
      });

      it('starts at the oldest item with gap true when N was evicted', async () => {
        for (let i = 1; i <= 60; i++) await pub.send({ topic: 't', payload: i }); // buffer keeps 11..60
        const sub = await open('index=3');
        expect(sub.messages[0]).toMatchObject({ type: 'hello', index: 11, gap: true });
        await sub.waitForIndex(60);
        expect(sub.indexes).toEqual(Array.from({ length: 50 }, (_, i) => i + 11));
      });

      it('starts at the oldest item with gap true when the epoch is not the current one', async () => {
        for (let i = 1; i <= 5; i++) await pub.send({ topic: 't', payload: i });
        const sub = await open('index=4&epoch=0000000000000000');
        expect(sub.messages[0]).toMatchObject({ index: 1, gap: true, epoch: gw.gateway.epoch });
        await sub.waitForIndex(5);
        expect(sub.indexes).toEqual([1, 2, 3, 4, 5]);
      });

      it('with strict=1 refuses an evicted index with HTTP 410 index_gone, oldest and epoch', async () => {
        for (let i = 1; i <= 60; i++) await pub.send({ topic: 't', payload: i });
        const sub = new Sub(`${gw.ws}/v1/subscribe?index=3&strict=1`);
        await until(() => sub.refused ?? undefined, 'refusal');
        expect(sub.refused!.status).toBe(410);
        expect(sub.refused!.body).toMatchObject({ code: 'index_gone', oldest: 11, epoch: gw.gateway.epoch });
      });

      it('with strict=1 refuses another epoch, and accepts a retained index', async () => {
        await pub.send({ topic: 't', payload: 1 });
        const other = new Sub(`${gw.ws}/v1/subscribe?index=1&strict=1&epoch=feedfeedfeedfeed`);
        await until(() => other.refused ?? undefined, 'refusal');
        expect(other.refused).toMatchObject({ status: 410, body: { code: 'index_gone', oldest: 1 } });
        const ok = await open(`index=1&strict=1&epoch=${gw.gateway.epoch}`);
        expect(ok.messages[0]).toMatchObject({ index: 1, gap: false });
        await ok.waitForIndex(1);
      });

      it('waits for an index the buffer has not reached yet', async () => {
        await pub.send({ topic: 't', payload: 1 });
        const sub = await open('index=3');
        expect(sub.messages[0]).toMatchObject({ index: 3, gap: false });
        await pub.send({ topic: 't', payload: 2 });
        await pub.send({ topic: 't', payload: 3 });
        await sub.waitForIndex(3);
        expect(sub.indexes).toEqual([3]);
      });
    });

    describe('refusals and policy', () => {
      const cases: Array<[string, string]> = [
        ['format=xml', 'format'],
        ['index=-1', 'index'],
        ['index=12abc', 'index'],
        ['topic=', 'topic'],
        ['topic=a:', 'topic'],
        ['strict=1', 'strict'],
        ['strict=maybe&index=1', 'strict'],
        ['colour=blue', 'colour'],
      ];
      for (const [query, named] of cases) {
        it(`refuses "${query}" at upgrade with HTTP 400 bad_query naming ${named}`, async () => {
          const sub = new Sub(`${gw.ws}/v1/subscribe?${query}`);
          await until(() => sub.refused ?? undefined, 'refusal');
          expect(sub.refused!.status).toBe(400);
          expect(sub.refused!.body.code).toBe('bad_query');
          expect(sub.refused!.body.message).toContain(named);
        });
      }

      it('answers 404 not_found to an upgrade on an unknown path', async () => {
        const sub = new Sub(`${gw.ws}/v1/nope`);
        await until(() => sub.refused ?? undefined, 'refusal');
        expect(sub.refused).toMatchObject({ status: 404, body: { code: 'not_found' } });
      });

      it('closes a subscriber that sends a data message with 1008, and keeps serving the others', async () => {
        const rude = await open();
        const polite = await open();
        rude.ws.send('hello?');
        expect(await rude.waitForClose()).toMatchObject({ code: 1008 });
        await pub.send({ topic: 't', payload: 1 });
        await polite.waitForIndex(1);
      });

      it('answers a plain GET of the subscribe endpoint with 426 upgrade_required', async () => {
        const res = await fetch(`${gw.http}/v1/subscribe`);
        expect(res.status).toBe(426);
        expect(await res.json()).toMatchObject({ code: 'upgrade_required' });
      });
    });

    describe('heartbeat', () => {
      it('sends {type: "heartbeat"} to idle subscribers every --heartbeat', async () => {
        const fast = await startTestGateway({ transport, heartbeatMs: 100 });
        try {
          const sub = await Sub.open(fast.ws, '', 'json');
          await until(() => sub.messages.filter((m) => m.type === 'heartbeat').length >= 2, 'two heartbeats');
          expect(sub.messages[1]).toEqual({ type: 'heartbeat' });
          await sub.close();
        } finally {
          await fast.stop();
        }
      });
    });

    it('answers a broken handshake with 400 and keeps serving everyone else', async () => {
      const socket = net.connect(Number(new URL(gw.http).port), '127.0.0.1');
      // A key, but a protocol version the gateway does not speak.
      socket.end(
        'GET /v1/subscribe HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n' +
          'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 7\r\n\r\n',
      );
      let response = '';
      socket.on('data', (chunk) => (response += chunk.toString()));
      await once(socket, 'close');
      expect(response).toMatch(/^HTTP\/1\.1 400 /);
      const sub = await open();
      await pub.send({ topic: 't', payload: 1 });
      await sub.waitForIndex(1);
      expect(sub.ws.readyState).toBe(WebSocket.OPEN);
    });
  });
}
