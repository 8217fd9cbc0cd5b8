/**
 * fanwire/client in Node against a real gateway, with a real TCP proxy in
 * between where the network has to fail.
 */
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import {
  connectPublisher,
  PublishError,
  subscribe,
  SubscriptionState,
  type EventsMessage,
  type Gap,
  type Publisher,
  type Subscription,
  type WebSocketConstructor,
} from '../../src/client/index.js';
import { TcpProxy, startTestGateway, until, type TestGateway } from '../helpers.js';

/** The `ws` class, remembering its last instance so a test can stop reading from it (`pause()`). */
function pausableWebSocket(): { Ctor: WebSocketConstructor; last: () => WebSocket } {
  let last: WebSocket | null = null;
  class Pausable extends WebSocket {
    constructor(url: string, protocols?: string[]) {
      super(url, protocols);
      last = this;
    }
  }
  return { Ctor: Pausable as unknown as WebSocketConstructor, last: () => last! };
}

/** Publishes 64 KiB events until the gateway's only subscriber is backpressured (its socket full). */
async function publishUntilStalled(gw: TestGateway, pub: Publisher): Promise<void> {
  for (let i = 0; i < 4_000; i++) {
    await pub.publish({ topic: 't', key: `k${i % 3}`, payload: 'x'.repeat(64 * 1024) });
    if (gw.gateway.laggards(1)[0]?.backpressured) return;
  }
  throw new Error('the subscriber never backed up');
}

describe('fanwire/client', () => {
  let gw: TestGateway | null = null;
  let proxy: TcpProxy | null = null;
  const subs: Subscription[] = [];
  afterEach(async () => {
    for (const s of subs.splice(0)) s.close();
    await proxy?.close();
    proxy = null;
    await gw?.stop();
    gw = null;
  });

  const indexes = (messages: EventsMessage[]) => messages.map((m) => m.index);

  describe('publish', () => {
    it('resolves each call with its acked index, batching calls made in one tick into one frame', async () => {
      gw = await startTestGateway();
      const pub = await connectPublisher({ url: gw.ws });
      const single = await pub.publish({ topic: 't', payload: 1 });
      const batched = await Promise.all([pub.publish({ topic: 't', payload: 2 }), pub.publish([{ topic: 'u', payload: 3 }, { topic: 'u', payload: 4 }])]);
      expect(single).toBe(1);
      expect(batched).toEqual([2, 2]); // one frame, one item, one index
      expect(gw.gateway.buffer.tailItem().events).toHaveLength(3);
      await pub.close();
    });

    it('rejects a refused frame with PublishError carrying the documented code, and appends nothing', async () => {
      gw = await startTestGateway();
      const pub = await connectPublisher({ url: gw.ws, format: 'json' });
      const err = await pub.publish({ topic: 'not:valid', payload: 1 }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(PublishError);
      expect(err).toMatchObject({ code: 'invalid_frame' });
      expect(gw.gateway.buffer.newestIndex).toBe(0);
      expect(await pub.publish({ topic: 't', payload: 1 })).toBe(1);
      await pub.close();
    });
  });

  describe('subscribe', () => {
    it('delivers every event in order through callbacks and async iteration, in both formats', async () => {
      gw = await startTestGateway();
      const results: Array<{ callbacks: number[]; iterated: number[]; done: Promise<void> }> = [];
      for (const format of ['msgpack', 'json'] as const) {
        const callbacks: number[] = [];
        const iterated: number[] = [];
        const sub = subscribe({ url: gw.ws, format, topics: ['t'], fromIndex: 1, onEvents: (m) => callbacks.push(m.index) });
        subs.push(sub);
        const done = (async () => {
          for await (const m of sub) {
            iterated.push(m.index);
            if (iterated.length === 3) break;
          }
        })();
        results.push({ callbacks, iterated, done });
        await until(() => sub.state === SubscriptionState.Live, 'live');
      }
      const pub = await connectPublisher({ url: gw.ws });
      for (let i = 1; i <= 3; i++) await pub.publish({ topic: 't', key: `k${i}`, payload: i });
      await pub.publish({ topic: 'other', payload: 0 });
      for (const r of results) {
        await r.done;
        expect(r.iterated).toEqual([1, 2, 3]);
        expect(r.callbacks).toEqual([1, 2, 3]);
      }
      expect(subs.map((s) => s.epoch)).toEqual([gw.gateway.epoch, gw.gateway.epoch]);
      expect(subs.map((s) => s.state)).toEqual([SubscriptionState.Closed, SubscriptionState.Closed]); // break ends the subscription
      await pub.close();
    });

    it('with batch: true, hands each events message of a batch to onEvents and iteration on its own, in order', async () => {
      gw = await startTestGateway();
      const pub = await connectPublisher({ url: gw.ws });
      for (let i = 1; i <= 10; i++) await pub.publish({ topic: 't', payload: i });
      let socketMessages = 0;
      class Counting extends WebSocket {
        constructor(url: string, protocols?: string[]) {
          super(url, protocols);
          this.on('message', () => socketMessages++);
        }
      }
      for (const format of ['msgpack', 'json'] as const) {
        socketMessages = 0;
        const callbacks: number[] = [];
        const sub = subscribe({ url: gw.ws, format, fromIndex: 1, batch: true, onEvents: (m) => callbacks.push(m.index), WebSocket: Counting as unknown as WebSocketConstructor });
        subs.push(sub);
        const iterated: number[] = [];
        for await (const m of sub) {
          iterated.push(m.index);
          if (m.index === 10) break;
        }
        expect(callbacks).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
        expect(iterated).toEqual(callbacks);
        expect(sub.lastIndex).toBe(10);
        expect(socketMessages).toBe(2); // hello, and one batch of the ten
      }
      await pub.close();
    });

    it('with batch: true, delivers nothing more of a batch once a listener closed the subscription', async () => {
      gw = await startTestGateway();
      const pub = await connectPublisher({ url: gw.ws });
      for (let i = 1; i <= 5; i++) await pub.publish({ topic: 't', payload: i });
      const callbacks: number[] = [];
      const sub: Subscription = subscribe({
        url: gw.ws,
        fromIndex: 1,
        batch: true,
        onEvents: (m) => {
          callbacks.push(m.index);
          if (m.index === 2) sub.close();
        },
      });
      subs.push(sub);
      await sub.closed;
      expect(callbacks).toEqual([1, 2]);
      await pub.close();
    });

    it('resumes after the network drops the socket with no missing or repeated index', async () => {
      gw = await startTestGateway();
      proxy = await TcpProxy.start(Number(new URL(gw.http).port));
      const seen: EventsMessage[] = [];
      const states: string[] = [];
      const sub = subscribe({ url: proxy.url, onEvents: (m) => seen.push(m), onState: (s, r) => states.push(`${s}:${r}`), backoff: { initialMs: 10, maxMs: 50 } });
      subs.push(sub);
      await until(() => sub.state === SubscriptionState.Live, 'live');
      const pub = await connectPublisher({ url: gw.ws });
      for (let i = 1; i <= 5; i++) await pub.publish({ topic: 't', payload: i });
      await until(() => sub.lastIndex === 5, 'index 5');
      proxy.drop();
      for (let i = 6; i <= 10; i++) await pub.publish({ topic: 't', payload: i }); // while it is away
      await until(() => sub.lastIndex === 10, 'index 10 after the drop');
      expect(indexes(seen)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
      expect(states).toEqual(['connecting:start', 'live:hello', 'reconnecting:connection_lost', 'live:hello']);
      await pub.close();
    });

    it('with snapshot: true, hands over the state (newest per topic and key) once complete, then the events after it, and rebuilds it after a gap', async () => {
      gw = await startTestGateway({ bufferSize: 3 });
      proxy = await TcpProxy.start(Number(new URL(gw.http).port));
      const pub = await connectPublisher({ url: gw.ws });
      for (const [key, payload] of [['a', 1], ['b', 2], ['a', 3]] as const) await pub.publish({ topic: 't', key, payload });
      const snapshots: Array<{ events: Array<[string, unknown, number]>; index: number }> = [];
      const seen: EventsMessage[] = [];
      const gaps: Gap[] = [];
      const sub = subscribe({
        url: proxy.url,
        snapshot: true,
        onSnapshot: (events, { index }) => snapshots.push({ events: events.map((e) => [e.key, e.payload, e.index]), index }),
        onEvents: (m) => seen.push(m),
        onGap: (g) => gaps.push(g),
        backoff: { initialMs: 10, maxMs: 50 },
      });
      subs.push(sub);
      await until(() => snapshots.length === 1 || undefined, 'snapshot');
      expect(snapshots[0]).toEqual({ events: [['b', 2, 2], ['a', 3, 3]], index: 4 });
      await pub.publish({ topic: 't', key: 'c', payload: 4 });
      await until(() => sub.lastIndex === 4, 'index 4');
      // Away while more than the buffer holds is published: the resume finds a gap, and a snapshot heals it.
      const port = proxy.targetPort;
      proxy.targetPort = 1; // nothing listens there: reconnects fail until it is restored
      proxy.drop();
      for (let i = 5; i <= 9; i++) await pub.publish({ topic: 't', key: i % 2 ? 'a' : 'b', payload: i });
      proxy.targetPort = port;
      await until(() => snapshots.length === 2 || undefined, 'second snapshot');
      expect(gaps).toHaveLength(1);
      expect(snapshots[1]).toEqual({ events: [['c', 4, 4], ['b', 8, 8], ['a', 9, 9]], index: 10 });
      await pub.publish({ topic: 't', key: 'd', payload: 10 });
      await until(() => sub.lastIndex === 10, 'index 10');
      expect(indexes(seen)).toEqual([4, 10]);
      await pub.close();
    });

    it('refuses snapshot together with strict at once (they exclude each other)', () => {
      expect(() => subscribe({ url: 'ws://127.0.0.1:1', snapshot: true, strict: true, fromIndex: 1 })).toThrow(TypeError);
    });

    it('reports a gap with cause "epoch" when the gateway restarted, then follows the new one', async () => {
      gw = await startTestGateway();
      proxy = await TcpProxy.start(Number(new URL(gw.http).port));
      const gaps: Gap[] = [];
      const seen: EventsMessage[] = [];
      const sub = subscribe({ url: proxy.url, onGap: (g) => gaps.push(g), onEvents: (m) => seen.push(m), backoff: { initialMs: 10, maxMs: 50 } });
      subs.push(sub);
      await until(() => sub.state === SubscriptionState.Live, 'live');
      const first = await connectPublisher({ url: gw.ws });
      for (let i = 1; i <= 3; i++) await first.publish({ topic: 't', payload: i });
      await until(() => sub.lastIndex === 3, 'index 3');
      const oldEpoch = sub.epoch;
      await gw.stop();
      gw = await startTestGateway(); // a new process in real life: new epoch, indexes from 1
      proxy.targetPort = Number(new URL(gw.http).port);
      const second = await connectPublisher({ url: gw.ws });
      await second.publish({ topic: 't', payload: 'new' }); // index 1 again, in a new epoch
      await until(() => gaps.length === 1 && seen.length === 4, 'gap and the new event');
      expect(gaps[0]).toEqual({ requestedIndex: 4, resumedAt: 1, cause: 'epoch', epoch: gw.gateway.epoch });
      expect(sub.epoch).not.toBe(oldEpoch);
      expect(indexes(seen)).toEqual([1, 2, 3, 1]);
      await second.close();
    });

    it('reports items a lag: "skip" subscription skipped through onGap with cause "skipped", and goes on without reconnecting', async () => {
      gw = await startTestGateway({ bufferSize: 20, highWaterBytes: 64 * 1024 });
      const socket = pausableWebSocket();
      const gaps: Gap[] = [];
      const seen: EventsMessage[] = [];
      const states: string[] = [];
      const sub = subscribe({ url: gw.ws, lag: 'skip', topics: ['t'], WebSocket: socket.Ctor, onGap: (g) => gaps.push(g), onEvents: (m) => seen.push(m), onState: (s, r) => states.push(`${s}:${r}`) });
      subs.push(sub);
      await until(() => sub.state === SubscriptionState.Live, 'live');
      socket.last().pause();
      const pub = await connectPublisher({ url: gw.ws });
      await publishUntilStalled(gw, pub);
      for (let i = 0; i < 25; i++) await pub.publish({ topic: 't', payload: i }); // evicts all it was not sent
      const newest = gw.gateway.buffer.newestIndex;
      await until(() => gw!.gateway.laggards(1)[0]!.nextIndex === gw!.gateway.buffer.oldestIndex, 'the skip');
      socket.last().resume();
      await until(() => sub.lastIndex === newest, 'the newest event');
      expect(gaps).toHaveLength(1);
      const gap = gaps[0]!;
      expect(gap).toEqual({ requestedIndex: gap.requestedIndex, resumedAt: newest - 19, cause: 'skipped', reason: 'evicted', epoch: gw.gateway.epoch });
      const delivered = indexes(seen);
      expect(delivered).toEqual([...Array.from({ length: gap.requestedIndex - 1 }, (_, i) => i + 1), ...Array.from({ length: 20 }, (_, i) => newest - 19 + i)]);
      expect(states).toEqual(['connecting:start', 'live:hello']);
      await pub.close();
    });

    it('hands conflated messages of a lag: "conflate" subscription to onEvents with conflated: true', async () => {
      gw = await startTestGateway({ highWaterBytes: 64 * 1024, conflateGraceMs: 0 });
      const socket = pausableWebSocket();
      const seen: EventsMessage[] = [];
      const sub = subscribe({ url: gw.ws, lag: 'conflate', format: 'json', WebSocket: socket.Ctor, onEvents: (m) => seen.push(m) });
      subs.push(sub);
      await until(() => sub.state === SubscriptionState.Live, 'live');
      socket.last().pause();
      const pub = await connectPublisher({ url: gw.ws });
      await publishUntilStalled(gw, pub);
      for (let i = 0; i < 9; i++) await pub.publish({ topic: 't', key: `k${i % 3}`, payload: i });
      const newest = gw.gateway.buffer.newestIndex;
      socket.last().resume();
      await until(() => sub.lastIndex === newest, 'the newest event');
      const conflated = seen.filter((m) => m.conflated === true);
      expect(conflated.length).toBeGreaterThan(0);
      expect(conflated.at(-1)).toMatchObject({ index: newest, events: [{ key: 'k0', payload: 6 }, { key: 'k1', payload: 7 }, { key: 'k2', payload: 8 }] });
      expect(seen.filter((m) => m.conflated !== true).every((m) => m.conflated === undefined)).toBe(true);
      await pub.close();
    });

    it('treats a connection that stops hearing heartbeats as dead and reconnects', async () => {
      gw = await startTestGateway({ heartbeatMs: 100 });
      proxy = await TcpProxy.start(Number(new URL(gw.http).port));
      const reasons: string[] = [];
      const sub = subscribe({ url: proxy.url, onState: (_s, r) => reasons.push(r), backoff: { initialMs: 10, maxMs: 50 } });
      subs.push(sub);
      await until(() => sub.state === SubscriptionState.Live, 'live');
      proxy.freeze(); // nothing flows, nothing closes
      await until(() => reasons.includes('heartbeat_timeout'), 'heartbeat timeout');
      proxy.freeze(false);
      await until(() => reasons.filter((r) => r === 'hello').length === 2, 'back live');
      expect(sub.state).toBe(SubscriptionState.Live);
    });
  });
});
