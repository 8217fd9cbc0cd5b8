import { unpack } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import { EventBuffer } from '../../src/buffer/index.js';
import type { BufferItem } from '../../src/buffer/index.js';
import { FilterRegistry, FrameCache } from '../../src/fanout/index.js';
import type { ItemEncoder, Prepared } from '../../src/fanout/index.js';
import { encodeJson, encodeMsgpack } from '../../src/protocol/index.js';
import type { Event, EventsMessage } from '../../src/protocol/index.js';

const MSGPACK = 0;
const JSON_ENCODING = 1;

const event = (topic: string, key: string, payload: unknown, filterKeys?: string[]): Event =>
  filterKeys === undefined ? { topic, type: '', key, payload } : { topic, type: '', key, filterKeys, payload };

interface Call {
  encoding: number;
  index: number;
  events: readonly Event[];
}

/** A FrameCache with the gateway's two real encoders, recording every call they get. */
function setup(): { cache: FrameCache<Event>; calls: Call[]; registry: FilterRegistry; buffer: EventBuffer<Event> } {
  const calls: Call[] = [];
  const recording = (encoding: number, encode: (m: EventsMessage) => Uint8Array): ItemEncoder<Event> => {
    return (index, events) => {
      calls.push({ encoding, index, events });
      return encode({ type: 'events', index, events: [...events] });
    };
  };
  const cache = new FrameCache<Event>([recording(MSGPACK, encodeMsgpack), recording(JSON_ENCODING, encodeJson)]);
  return { cache, calls, registry: new FilterRegistry(), buffer: new EventBuffer<Event>({ maxSize: 100 }) };
}

const fromMsgpack = (frame: Prepared | null): EventsMessage => unpack(frame as Uint8Array) as EventsMessage;
const fromJson = (frame: Prepared | null): EventsMessage =>
  JSON.parse(Buffer.from(frame as Uint8Array).toString('utf8')) as EventsMessage;

describe('FrameCache', () => {
  it('encodes an item once per filter and encoding, however many subscribers ask for it', () => {
    const { cache, calls, registry, buffer } = setup();
    const item = buffer.append([event('orders', 'o-1', { total: 12 })]);
    const filter = registry.acquire([{ topic: 'orders', key: null }]);

    const first = cache.get(item, filter, MSGPACK);
    for (let subscriber = 0; subscriber < 1_000; subscriber++) {
      expect(cache.get(item, filter, MSGPACK)).toBe(first);
    }
    expect(cache.encodes).toBe(1);
    expect(calls).toHaveLength(1);
    expect(fromMsgpack(first)).toEqual({ type: 'events', index: 1, events: [event('orders', 'o-1', { total: 12 })] });
  });

  it('serves every subscriber sharing an interned filter the same bytes', () => {
    const { cache, registry, buffer } = setup();
    const item = buffer.append([event('orders', 'o-1', 1)]);
    const alice = registry.acquire([{ topic: 'orders', key: 'o-1' }, { topic: 'audit', key: null }]);
    const bob = registry.acquire([{ topic: 'audit', key: null }, { topic: 'orders', key: 'o-1' }]);
    expect(cache.get(item, bob, JSON_ENCODING)).toBe(cache.get(item, alice, JSON_ENCODING));
    expect(cache.encodes).toBe(1);
  });

  it('encodes each item separately', () => {
    const { cache, calls, registry, buffer } = setup();
    const filter = registry.acquire(null);
    const items = [1, 2, 3].map((n) => buffer.append([event('t', `k${n}`, n)]));
    const frames = items.map((item) => cache.get(item, filter, JSON_ENCODING));
    expect(frames.map((f) => fromJson(f).index)).toEqual([1, 2, 3]);
    expect(frames.map((f) => fromJson(f).events[0]!.payload)).toEqual([1, 2, 3]);
    items.forEach((item, i) => expect(cache.get(item, filter, JSON_ENCODING)).toBe(frames[i]));
    expect(cache.encodes).toBe(3);
    expect(calls.map((c) => c.index)).toEqual([1, 2, 3]);
  });

  it('gives null for an item with no matching event, without encoding it, however often asked', () => {
    const { cache, calls, registry, buffer } = setup();
    const item = buffer.append([event('audit', 'a', 1), event('orders', 'o-9', 2)]);
    const filter = registry.acquire([{ topic: 'orders', key: 'o-1' }]);
    for (let i = 0; i < 10; i++) {
      expect(cache.get(item, filter, MSGPACK)).toBeNull();
      expect(cache.get(item, filter, JSON_ENCODING)).toBeNull();
    }
    expect(cache.encodes).toBe(0);
    expect(calls).toHaveLength(0);
  });

  it('gives null for a position-only item without events', () => {
    const { cache, registry, buffer } = setup();
    const filter = registry.acquire(null);
    expect(cache.get(buffer.tailItem(), filter, MSGPACK)).toBeNull();
    const item = buffer.append([event('t', 'k', 1)]);
    expect(cache.get(item.nextLink(), filter, MSGPACK)).toBeNull();
    expect(cache.encodes).toBe(0);
  });

  it('gives each filter and each encoding of one item its own bytes, and keeps all of them', () => {
    const { cache, calls, registry, buffer } = setup();
    const item = buffer.append([
      event('orders', 'o-1', { n: 1 }),
      event('audit', 'a-1', { n: 2 }),
      event('orders', 'o-2', { n: 3 }, ['customer-9']),
    ]);
    const orders = registry.acquire([{ topic: 'orders', key: null }]);
    const customer = registry.acquire([{ topic: 'orders', key: 'customer-9' }]);

    const frames = new Map<string, Prepared | null>();
    const ask = (name: string, filter = name.startsWith('orders') ? orders : customer): Prepared | null =>
      cache.get(item, filter, name.endsWith('json') ? JSON_ENCODING : MSGPACK);
    // Ask in an interleaved order, twice, so cached frames are found wherever the cache keeps them.
    for (const round of [0, 1]) {
      for (const name of ['orders/msgpack', 'customer/json', 'orders/json', 'customer/msgpack', 'orders/msgpack', 'customer/json']) {
        const frame = ask(name);
        if (round === 0 && !frames.has(name)) frames.set(name, frame);
        else expect(frame, `${name} in round ${round}`).toBe(frames.get(name));
      }
    }

    expect(cache.encodes).toBe(4);
    expect(calls.map((c) => c.encoding).sort()).toEqual([MSGPACK, MSGPACK, JSON_ENCODING, JSON_ENCODING]);
    expect(new Set(frames.values()).size).toBe(4);

    const ordersEvents = [event('orders', 'o-1', { n: 1 }), event('orders', 'o-2', { n: 3 }, ['customer-9'])];
    const customerEvents = [event('orders', 'o-2', { n: 3 }, ['customer-9'])];
    expect(fromMsgpack(frames.get('orders/msgpack')!)).toEqual({ type: 'events', index: 1, events: ordersEvents });
    expect(fromJson(frames.get('orders/json')!)).toEqual({ type: 'events', index: 1, events: ordersEvents });
    expect(fromMsgpack(frames.get('customer/msgpack')!)).toEqual({ type: 'events', index: 1, events: customerEvents });
    expect(fromJson(frames.get('customer/json')!)).toEqual({ type: 'events', index: 1, events: customerEvents });
  });

  it('keeps a null answer for one filter apart from the frame of another on the same item', () => {
    const { cache, registry, buffer } = setup();
    const item = buffer.append([event('orders', 'o-1', 1)]);
    const none = registry.acquire([{ topic: 'audit', key: null }]);
    const all = registry.acquire(null);
    expect(cache.get(item, none, MSGPACK)).toBeNull();
    const frame = cache.get(item, all, MSGPACK);
    expect(frame).not.toBeNull();
    expect(cache.get(item, none, MSGPACK)).toBeNull();
    expect(cache.get(item, all, MSGPACK)).toBe(frame);
    expect(cache.encodes).toBe(1);
  });

  it('passes the encoder only the matching events, in published order, with the item index', () => {
    const { cache, calls, registry, buffer } = setup();
    buffer.append([event('x', 'x', 0)]);
    const published = [
      event('orders', 'o-1', 1),
      event('audit', 'a', 2),
      event('orders', 'o-2', 3, ['vip']),
      event('orders', 'o-3', 4),
      event('orders', 'o-1', 5),
    ];
    const item = buffer.append(published);
    cache.get(item, registry.acquire([{ topic: 'orders', key: 'o-1' }, { topic: 'orders', key: 'vip' }]), MSGPACK);
    expect(calls).toHaveLength(1);
    expect(calls[0]!.index).toBe(2);
    expect(calls[0]!.events).toEqual([published[0], published[2], published[4]]);
    expect(calls[0]!.events[0]).toBe(published[0]);
  });

  it('passes the item\'s own event array through when every event matches', () => {
    const { cache, calls, registry, buffer } = setup();
    const published = [event('orders', 'o-1', 1), event('orders', 'o-2', 2)];
    const item: BufferItem<Event> = buffer.append(published);
    cache.get(item, registry.acquire([{ topic: 'orders', key: null }]), JSON_ENCODING);
    expect(calls[0]!.events).toBe(item.events);
  });

  it('encodes again for a filter re-created after its last subscriber left, never serving it another filter\'s frame', () => {
    const { cache, registry, buffer } = setup();
    const item = buffer.append([event('orders', 'o-1', 1), event('audit', 'a', 2)]);
    const before = registry.acquire([{ topic: 'orders', key: null }]);
    const old = cache.get(item, before, MSGPACK);
    registry.release(before);
    const other = registry.acquire([{ topic: 'audit', key: null }]);
    const after = registry.acquire([{ topic: 'orders', key: null }]);
    expect(after.id).not.toBe(before.id);
    expect(fromMsgpack(cache.get(item, other, MSGPACK)).events).toEqual([event('audit', 'a', 2)]);
    const again = cache.get(item, after, MSGPACK);
    expect(again).not.toBe(old);
    expect(fromMsgpack(again)).toEqual(fromMsgpack(old));
    expect(cache.encodes).toBe(3);
  });
  describe('joining, a capability of the transport', () => {
    const items = (n: number) => {
      const buffer = new EventBuffer<Event>({ maxSize: 10 });
      return Array.from({ length: n }, (_, i) => buffer.append([event('orders', `o-${i}`, i)]));
    };

    it('joins a run of frames through the transport\'s join once per range, filter and encoding, and hands every caller the same message', () => {
      const joins: number[] = [];
      const join = (messages: readonly Prepared[], count: number, bytes: number): Prepared => {
        joins.push(count);
        return Buffer.concat((messages as Uint8Array[]).slice(0, count), bytes);
      };
      const cache = new FrameCache<Event>([(index, events) => encodeMsgpack({ type: 'events', index, events })], [], join);
      const filter = new FilterRegistry().acquire(null);
      const [a, b, c] = items(3);
      const frames = [a!, b!, c!].map((item) => cache.get(item, filter, MSGPACK)!);
      const bytes = frames.reduce((n, f) => n + f.byteLength, 0);
      expect(cache.canJoin).toBe(true);
      const first = cache.joined(a!.index, c!.index, 3, bytes, filter, MSGPACK, frames);
      const again = cache.joined(a!.index, c!.index, 3, bytes, filter, MSGPACK, frames);
      expect(again).toBe(first);
      expect(joins).toEqual([3]);
      expect(Buffer.from(first as Uint8Array)).toEqual(Buffer.concat(frames as Uint8Array[]));
    });

    it('says it cannot join where the transport has no join (cursors then write frames one by one), and refuses to', () => {
      const cache = new FrameCache<Event>([(index, events) => encodeMsgpack({ type: 'events', index, events })]);
      const filter = new FilterRegistry().acquire(null);
      const [a, b] = items(2);
      const frames = [cache.get(a!, filter, MSGPACK)!, cache.get(b!, filter, MSGPACK)!];
      expect(cache.canJoin).toBe(false);
      expect(() => cache.joined(a!.index, b!.index, 2, 10, filter, MSGPACK, frames)).toThrow(TypeError);
    });
  });
});
