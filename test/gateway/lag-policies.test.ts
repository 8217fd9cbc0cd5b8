/**
 * Laggard policies over real sockets (docs/protocol.md, Slow subscribers).
 * The gateway runs as the real CLI in its own process, as in
 * slow-subscriber.test.ts, so the publisher and the subscribers here never
 * compete with it for an event loop.
 *
 * A subscriber stalls by not reading its socket (`ws.pause()`); events of
 * 64 KiB fill the loopback buffers within a few MiB. Nothing waits for a
 * duration: each step waits (bounded) for the state it needs, read from
 * GET /v1/subscribers and GET /v1/stats.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { getJson, Pub, spawnGateway, Sub, TRANSPORTS, until, type CliGateway, type Message } from '../helpers.js';

const BIG = 'x'.repeat(64 * 1024);
/** Far more than the kernel can absorb; publishing stops as soon as the gateway sees the stall. */
const MAX_EVENTS = 4_000;

interface Published {
  index: number;
  topic: string;
  key: string;
  payload: unknown;
}

/** The slow subscriber's row of GET /v1/subscribers (the only lag policy subscriber here). */
async function row(gw: CliGateway, lag: string): Promise<Message> {
  const { body } = await getJson(`${gw.http}/v1/subscribers?sort=lag&limit=1000`);
  const found = (body.subscribers as Message[]).find((s) => s.lag === lag);
  if (found === undefined) throw new Error(`no ${lag} subscriber in ${JSON.stringify(body)}`);
  return found;
}

/** Publishes one event (topic "t" unless said), logging what went under which index. */
async function publish(pub: Pub, log: Published[], key: string, payload: unknown, topic = 't'): Promise<void> {
  const reply = await pub.send({ topic, key, payload });
  expect(reply.type).toBe('ack');
  log.push({ index: reply.index as number, topic, key, payload });
}

/** Publishes big events until the gateway reports the `lag` subscriber's cursor waiting for its socket. */
async function publishUntilStalled(gw: CliGateway, pub: Pub, log: Published[], lag: string, keys: number): Promise<void> {
  for (let i = 0; i < MAX_EVENTS; i++) {
    await publish(pub, log, `k${i % keys}`, BIG);
    if (i % 10 === 9 && (await row(gw, lag)).backpressured) return;
  }
  throw new Error(`the subscriber was not backpressured after ${MAX_EVENTS} events`);
}

const payloadOf = (m: Message): unknown => m.payload;

for (const transport of TRANSPORTS) {
  describe(`laggard policies (${transport})`, () => {
    let gw: CliGateway | null = null;
    afterEach(async () => {
      await gw?.stop();
      gw = null;
    });

    for (const format of ['msgpack', 'json'] as const) {
      it(`skip (${format}): a stalled subscriber gets a gap message with the exact bounds of what was evicted, then every later event in order, and stays open`, async () => {
        gw = await spawnGateway(['--transport', transport, '--buffer-size', '50', '--high-water-bytes', '64KiB']);
        const pub = await Pub.open(gw.ws);
        const slow = await Sub.open(gw.ws, 'topic=t&lag=skip', format);
        slow.ws.pause();
        const log: Published[] = [];
        await publishUntilStalled(gw, pub, log, 'skip', 1);
        // Another buffer's worth: whatever the subscriber had not been sent is evicted.
        for (let i = 0; i < 60; i++) await publish(pub, log, 'k0', { i });
        const oldest = (await getJson(`${gw.http}/v1/stats`)).body.buffer.oldestIndex as number;
        expect(oldest).toBe(log.at(-1)!.index - 49);
        // Its cursor has jumped to the oldest item held (it does so at each eviction it wakes for).
        await until(async () => (await row(gw!, 'skip')).nextIndex === oldest, 'the cursor to skip to the oldest item');
        slow.ws.resume();

        const last = log.at(-1)!.index;
        await slow.waitForIndex(last);
        const afterHello = slow.messages.slice(1).filter((m) => m.type !== 'heartbeat');
        const gapAt = afterHello.findIndex((m) => m.type === 'gap');
        expect(gapAt, JSON.stringify(afterHello.map((m) => m.type))).toBeGreaterThan(0);
        const before = afterHello.slice(0, gapAt).map((m) => m.index as number);
        const gap = afterHello[gapAt]!;
        const after = afterHello.slice(gapAt + 1);
        expect(before).toEqual(Array.from({ length: before.length }, (_, i) => i + 1));
        expect(gap).toEqual({ type: 'gap', from: before.length + 1, to: oldest - 1, reason: 'evicted' });
        expect(after.map((m) => m.type)).toEqual(after.map(() => 'events'));
        expect(after.map((m) => m.index)).toEqual(Array.from({ length: last - oldest + 1 }, (_, i) => oldest + i));
        expect(after.map((m) => payloadOf(m.events[0]))).toEqual(log.filter((p) => p.index >= oldest).map((p) => p.payload));
        expect(after.every((m) => m.conflated === undefined)).toBe(true);

        await publish(pub, log, 'k0', 'later');
        await slow.waitForIndex(last + 1);
        expect(slow.closed).toBeNull();
        const { body } = await getJson(`${gw.http}/v1/stats`);
        expect(body.totals.dropped).toEqual({ lagged: 0, backpressure: 0, shutdown: 0, error: 0 });
        expect(body.totals.lag.skip).toMatchObject({ gap_evicted: 1, skippedItems: oldest - 1 - before.length });
        const metrics = await (await fetch(`${gw.http}/metrics`)).text();
        expect(metrics).toContain('fanwire_lag_outcomes_total{policy="skip",outcome="gap_evicted"} 1\n');
        expect(metrics).toContain(`fanwire_lag_skipped_items_total{policy="skip"} ${oldest - 1 - before.length}\n`);
        await Promise.all([slow.close(), pub.close()]);
      });

      it(`conflate (${format}): a stalled subscriber gets, for each range it skipped, exactly the newest event of each key, then every event again`, async () => {
        gw = await spawnGateway(['--transport', transport, '--buffer-size', '10000', '--high-water-bytes', '64KiB', '--conflate-grace', '0']);
        const pub = await Pub.open(gw.ws);
        const slow = await Sub.open(gw.ws, 'topic=t&lag=conflate', format);
        slow.ws.pause();
        const log: Published[] = [];
        await publishUntilStalled(gw, pub, log, 'conflate', 5);
        await until(async () => (await row(gw!, 'conflate')).conflating === true, 'the cursor to conflate');
        // Small newest events for every key, so the conflated message is small; and
        // events of another topic under the same keys, which its filter leaves out.
        for (let i = 0; i < 40; i++) {
          await publish(pub, log, `k${i % 5}`, { i });
          if (i % 4 === 0) await publish(pub, log, `k${i % 5}`, { other: i }, 'u');
        }
        await publish(pub, log, 'k0', { last: true });
        slow.ws.resume();

        const last = log.at(-1)!.index;
        await slow.waitForIndex(last);
        await until(async () => (await row(gw!, 'conflate')).conflating === false, 'the cursor to catch up');
        for (let i = 0; i < 5; i++) await publish(pub, log, `k${i}`, { after: i });
        await slow.waitForIndex(log.at(-1)!.index);

        const events = slow.events;
        const conflated = events.filter((m) => m.conflated === true);
        expect(conflated.length).toBeGreaterThan(0);
        let previous = 0;
        for (const m of events) {
          const index = m.index as number;
          expect(index).toBeGreaterThan(previous);
          const range = log.filter((p) => p.topic === 't' && p.index > previous && p.index <= index);
          if (m.conflated === true) {
            // Newest of each key in (previous, index], in the order they were published.
            const newest = new Map<string, Published>();
            for (const p of range) {
              newest.delete(p.key);
              newest.set(p.key, p);
            }
            expect(m.events.map((e: Message) => [e.key, e.payload])).toEqual([...newest.values()].map((p) => [p.key, p.payload]));
          } else {
            expect(m.conflated).toBeUndefined();
            expect(range.map((p) => p.index)).toEqual([index]); // full delivery: nothing skipped
            expect(m.events.map((e: Message) => e.payload)).toEqual([range[0]!.payload]);
          }
          previous = index;
        }
        // Before the stall and after catching up, every event arrived as itself.
        expect(events[0]).toMatchObject({ index: 1 });
        expect(events.at(-1)!.conflated).toBeUndefined();
        expect(events.slice(-5).map((m) => m.index)).toEqual(log.slice(-5).map((p) => p.index));
        expect(events.flatMap((m) => m.events).every((e: Message) => e.topic === 't')).toBe(true);

        const { body } = await getJson(`${gw.http}/v1/stats`);
        expect(body.totals.dropped.lagged + body.totals.dropped.backpressure).toBe(0);
        expect(body.totals.lag.conflate.conflated).toBe(conflated.length);
        const published = log.filter((p) => p.topic === 't').length;
        expect(body.totals.lag.conflate.eventsConflatedAway).toBe(published - events.reduce((n, m) => n + m.events.length, 0));
        await Promise.all([slow.close(), pub.close()]);
      });
    }

    it('skip with batch=1: the gap message travels alone, the items after it in batch messages, in order', async () => {
      gw = await spawnGateway(['--transport', transport, '--buffer-size', '50', '--high-water-bytes', '64KiB']);
      const pub = await Pub.open(gw.ws);
      const slow = await Sub.open(gw.ws, 'topic=t&lag=skip&batch=1');
      slow.ws.pause();
      const log: Published[] = [];
      await publishUntilStalled(gw, pub, log, 'skip', 1);
      // Small events from here on: once the subscriber reads again, everything held is ready at once.
      for (let i = 0; i < 60; i++) await publish(pub, log, 'k0', { i });
      const oldest = (await getJson(`${gw.http}/v1/stats`)).body.buffer.oldestIndex as number;
      await until(async () => (await row(gw!, 'skip')).nextIndex === oldest, 'the cursor to skip to the oldest item');
      slow.ws.resume();

      const last = log.at(-1)!.index;
      await slow.waitForIndex(last);
      const afterHello = slow.messages.slice(1).filter((m) => m.type !== 'heartbeat');
      const gapAt = afterHello.findIndex((m) => m.type === 'gap');
      expect(gapAt, JSON.stringify(afterHello.map((m) => m.type))).toBeGreaterThanOrEqual(0);
      expect(afterHello[gapAt]).toMatchObject({ type: 'gap', to: oldest - 1, reason: 'evicted' });
      const after = afterHello.slice(gapAt + 1);
      expect(after.some((m) => m.type === 'batch')).toBe(true);
      const flat = after.flatMap((m) => (m.type === 'batch' ? (m.messages as Message[]) : [m]));
      expect(flat.map((m) => m.type)).toEqual(flat.map(() => 'events'));
      expect(flat.map((m) => m.index)).toEqual(Array.from({ length: last - oldest + 1 }, (_, i) => oldest + i));
      expect(flat.map((m) => payloadOf(m.events[0]))).toEqual(log.filter((p) => p.index >= oldest).map((p) => p.payload));
      // Everything before the gap arrived in order too (batched or not), ending right before it.
      const before = afterHello.slice(0, gapAt).flatMap((m) => (m.type === 'batch' ? (m.messages as Message[]) : [m]));
      expect(before.map((m) => m.index)).toEqual(Array.from({ length: before.length }, (_, i) => i + 1));
      expect(afterHello[gapAt]!.from).toBe(before.length + 1);
      expect(slow.closed).toBeNull();
      await Promise.all([slow.close(), pub.close()]);
    });

    it('refuses an unknown lag policy with 400 bad_query before upgrading', async () => {
      gw = await spawnGateway(['--transport', transport]);
      const sub = new Sub(`${gw.ws}/v1/subscribe?lag=never`);
      await until(() => sub.refused ?? undefined, 'the refusal');
      expect(sub.refused).toMatchObject({ status: 400, body: { code: 'bad_query' } });
      expect(sub.refused!.body.message).toContain('lag');
    });
  });
}
