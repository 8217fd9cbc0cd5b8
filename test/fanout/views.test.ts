/**
 * Filtered views: a filtered subscriber reads a chain holding only what its
 * filter selects, kept in step with the buffer. Cursors run against a
 * recording Sink here; the same behaviour over real sockets is in
 * test/gateway/subscribe.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { BufferItem, EventBuffer } from '../../src/buffer/index.js';
import { ShuttingDownError } from '../../src/errors.js';
import { Cursor, FilterRegistry, FrameCache, LagCounters, ViewRegistry, type CursorEnd, type Joiner, type Selector, type Sink } from '../../src/fanout/index.js';

interface Ev {
  topic: string;
  key: string;
  n: number;
  filterKeys?: string[];
}

class RecordingSink implements Sink {
  closed = false;
  buffered = 0;
  frames: string[] = [];
  bufferedAmount(): number {
    return this.buffered;
  }
  writeBatch(frames: readonly Uint8Array[], count: number): void {
    for (let i = 0; i < count; i++) this.frames.push(Buffer.from(frames[i]!).toString());
  }
  waitDrain(): Promise<void> {
    return new Promise(() => {});
  }
}

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
const encoder = (index: number, events: readonly Ev[]) => Buffer.from(`${index}:${events.map((e) => e.n).join(',')}`);
const sel = (...specs: string[]): Selector[] =>
  specs.map((s) => {
    const at = s.indexOf(':');
    return at < 0 ? { topic: s, key: null } : { topic: s.slice(0, at), key: s.slice(at + 1) };
  });

/** A transport's join for frames that are whole messages back to back (as ws's are). */
const concat: Joiner = (messages, count, bytes) => Buffer.concat((messages as Uint8Array[]).slice(0, count), bytes);

/** `join`: the transport's, for a transport that can join messages. */
function setup(maxSize = 100, join: Joiner | null = null) {
  const views = new ViewRegistry<Ev>();
  const buffer = new EventBuffer<Ev>({ maxSize, onAppend: views.onAppend });
  views.attach(buffer);
  const filters = new FilterRegistry();
  const cache = new FrameCache<Ev>([encoder], [], join);
  /** Appends one item of one event per spec "topic:key=n" (or "topic:key=n+extra" for a filter key). */
  const append = (...specs: string[]): BufferItem<Ev> =>
    buffer.append(
      specs.map((s) => {
        const [tk, rest] = s.split('=') as [string, string];
        const [topic, key] = tk.split(':') as [string, string];
        const [n, extra] = rest.split('+');
        return { topic, key, n: Number(n), ...(extra ? { filterKeys: [extra] } : {}) };
      }),
    );
  /** A cursor on the view of `selectors`, reading after `start` (default: the tail). */
  const reader = (selectors: Selector[], start: BufferItem<Ev> = buffer.tailItem(), lag = false) => {
    const filter = filters.acquire(selectors);
    const view = views.acquire(filter);
    const sink = new RecordingSink();
    const cursor = new Cursor<Ev>(view.positionOf(start), filter, 0, cache, sink, {
      highWaterBytes: 1_000,
      dropAfterBytes: 10_000,
      batchBytes: 10_000,
      chain: view,
      lag: lag
        ? {
            policy: 'skip',
            skipTo: 'oldest',
            graceMs: 0,
            maxLagItems: 1_000,
            fallback: 'skip',
            counters: new LagCounters(),
            now: () => 0,
            frames: { gap: (from, to) => Buffer.from(`gap ${from}-${to}`), conflated: () => Buffer.alloc(0) },
          }
        : null,
    });
    let end: CursorEnd | null = null;
    void cursor.run().then((e) => (end = e));
    return { cursor, sink, view, filter, ended: () => end };
  };
  return { buffer, views, filters, cache, append, reader };
}

describe('Filtered views', () => {
  it('give a subscriber exactly the events its topic and topic:key filter selects, under the buffer indexes', async () => {
    const { append, reader } = setup();
    const a = reader(sel('a'));
    const ak1 = reader(sel('a:k1'));
    const bOrAk2 = reader(sel('b', 'a:k2'));
    append('a:k1=1');
    append('b:k1=2');
    append('a:k2=3');
    append('c:k1=4');
    append('a:k1=5', 'b:k9=6', 'a:k3=7');
    await tick();
    expect(a.sink.frames).toEqual(['1:1', '3:3', '5:5,7']);
    expect(ak1.sink.frames).toEqual(['1:1', '5:5']);
    expect(bOrAk2.sink.frames).toEqual(['2:2', '3:3', '5:6']);
  });

  it('put an event in a view once, however many of its keys the filter takes, in item order', async () => {
    const { append, reader } = setup();
    const both = reader(sel('a:k1', 'a:k2', 'b'));
    append('a:k1=1+k2', 'c:k=2', 'b:k=3', 'a:k2=4');
    append('a:k9=5', 'a:k1=6');
    await tick();
    expect(both.sink.frames).toEqual(['1:1,3,4', '2:6']);
  });

  it('route an event to a key it lists in filterKeys', async () => {
    const { append, reader } = setup();
    const k7 = reader(sel('a:k7'));
    append('a:k1=1+k7');
    append('a:k1=2');
    await tick();
    expect(k7.sink.frames).toEqual(['1:1']);
  });

  it('wake only the subscribers an append concerns: a view with no new item keeps its chain untouched', async () => {
    const { append, reader } = setup();
    const a = reader(sel('a'));
    const b = reader(sel('b'));
    append('a:k=1');
    append('a:k=2');
    await tick();
    expect(a.view.length).toBe(2);
    expect(b.view.length).toBe(0);
    expect(b.sink.frames).toEqual([]);
  });

  it('report a subscriber at its view tail as having passed the buffer newest index', async () => {
    const { append, reader } = setup();
    const b = reader(sel('b'));
    append('b:k=1');
    for (let n = 2; n <= 9; n++) append(`a:k=${n}`);
    await tick();
    expect(b.sink.frames).toEqual(['1:1']);
    expect(b.cursor.lastIndex).toBe(9);
  });

  it('start a resuming subscriber from what the buffer still holds, filled when the view is made', async () => {
    const { buffer, append, reader } = setup();
    for (let n = 1; n <= 6; n++) append(`${n % 2 ? 'a' : 'b'}:k=${n}`);
    const { item } = buffer.startAtClosest(3);
    const a = reader(sel('a'), BufferItem.before(item));
    await tick();
    expect(a.sink.frames).toEqual(['3:3', '5:5']);
    append('a:k=7');
    await tick();
    expect(a.sink.frames).toEqual(['3:3', '5:5', '7:7']);
  });

  it('start at the tail a subscriber resuming past the last item its filter selected', async () => {
    const { buffer, append, reader } = setup();
    append('a:k=1');
    append('b:k=2');
    const { item } = buffer.startAtClosest(2);
    const a = reader(sel('a'), BufferItem.before(item));
    append('a:k=3');
    await tick();
    expect(a.sink.frames).toEqual(['3:3']);
  });

  it('let go of what the buffer evicted, so a view never retains more than the buffer', async () => {
    const { append, reader } = setup(4);
    const a = reader(sel('a'));
    const b = reader(sel('b'));
    for (let n = 1; n <= 4; n++) append(`a:k=${n}`);
    append('b:k=5');
    for (let n = 6; n <= 20; n++) append(`a:k=${n}`);
    await tick();
    // b's only item (5) is long evicted from the buffer; the sweep (every maxSize/4 appends) let it go.
    expect(b.view.length).toBe(0);
    expect(a.view.length).toBeLessThanOrEqual(4);
    expect(a.view.headItem().index).toBeGreaterThanOrEqual(17);
  });

  it('drop a subscriber whose next item was evicted, and only then', async () => {
    const { append, reader } = setup(3);
    const a = reader(sel('a'));
    a.sink.buffered = 5_000; // over the high-water mark: the cursor waits for a drain that never comes
    append('a:k=1');
    await tick();
    expect(a.sink.frames).toEqual(['1:1']);
    for (let n = 2; n <= 4; n++) append(`b:k=${n}`);
    await tick();
    // Item 1 is evicted, but the subscriber delivered it: nothing lost.
    expect(a.ended()).toBeNull();
    for (let n = 5; n <= 9; n++) append(`a:k=${n}`);
    await tick();
    await tick();
    expect(a.ended()).toMatchObject({ reason: 'dropped', cause: 'lagged' });
  });

  it('skip to the oldest item the view holds, with a gap in buffer indexes, under lag=skip', async () => {
    const { append, reader } = setup(3);
    const a = reader(sel('a'), undefined, true);
    a.sink.buffered = 5_000;
    append('a:k=1');
    await tick();
    for (let n = 2; n <= 7; n++) append(`a:k=${n}`);
    await tick();
    a.sink.buffered = 0;
    append('a:k=8');
    await tick();
    await tick();
    expect(a.sink.frames[0]).toBe('1:1');
    expect(a.sink.frames[1]).toMatch(/^gap 2-\d$/);
    expect(a.sink.frames.at(-1)).toBe('8:8');
    expect(a.ended()).toBeNull();
  });

  it('end every reader with the buffer error when the buffer closes, after what came before it', async () => {
    const { buffer, append, reader } = setup();
    const a = reader(sel('a'));
    const b = reader(sel('b'));
    append('a:k=1');
    buffer.appendError(new ShuttingDownError());
    await tick();
    expect(a.sink.frames).toEqual(['1:1']);
    expect(a.ended()).toMatchObject({ reason: 'error' });
    expect(b.ended()).toMatchObject({ reason: 'error' });
  });

  it('carry the close into a view made from a closed buffer', () => {
    const { buffer, views, filters, append } = setup();
    append('a:k=1');
    buffer.appendError(new ShuttingDownError());
    const view = views.acquire(filters.acquire(sel('a')));
    expect(view.tailItem().error).toBeInstanceOf(ShuttingDownError);
  });

  it('stop routing to a view once its last subscriber let go, and share one view per filter meanwhile', () => {
    const { views, filters, append } = setup();
    const f = filters.acquire(sel('a'));
    const v1 = views.acquire(f);
    const v2 = views.acquire(filters.acquire(sel('a')));
    expect(v2).toBe(v1);
    expect(views.size).toBe(1);
    views.release(v1);
    append('a:k=1');
    expect(v1.length).toBe(1);
    views.release(v2);
    expect(views.size).toBe(0);
    append('a:k=2');
    expect(v1.length).toBe(1);
  });

  it('join a batch once per range, filter and format where the transport joins frames, whatever the number of subscribers', async () => {
    const { append, filters, views, cache, buffer } = setup(100, concat);
    const sinks: RecordingSink[] = [];
    for (let i = 0; i < 20; i++) {
      const filter = filters.acquire(sel(i % 2 ? 'a' : 'b'));
      const view = views.acquire(filter);
      const sink = new RecordingSink();
      sinks.push(sink);
      void new Cursor<Ev>(view.positionOf(buffer.tailItem()), filter, 0, cache, sink, { highWaterBytes: 1_000, dropAfterBytes: 10_000, batchBytes: 10_000, chain: view }).run();
    }
    for (let n = 1; n <= 6; n++) append(`${n % 2 ? 'a' : 'b'}:k=${n}`);
    await tick();
    // One joined buffer per filter (a: items 1, 3, 5; b: 2, 4, 6), each subscriber one write of it.
    expect(cache.joinsBuilt).toBe(2);
    expect(sinks[1]!.frames).toEqual(['1:13:35:5']);
    expect(sinks[0]!.frames).toEqual(['2:24:46:6']);
  });

  it('encode an item once per view and format, whatever the number of subscribers', async () => {
    const { append, reader, cache } = setup();
    const readers = Array.from({ length: 50 }, (_, i) => reader(sel(`a:k${i % 5}`)));
    for (let n = 0; n < 10; n++) append(`a:k${n % 5}=${n}`);
    await tick();
    expect(readers.every((r) => r.sink.frames.length === 2)).toBe(true);
    expect(cache.encodes).toBe(10);
  });
});
