/**
 * The cursor against a recording Sink: our own seam, not a socket library, so
 * batching and backpressure decisions can be checked exactly. The same
 * behaviour over real sockets is covered in test/gateway/.
 */
import { describe, expect, it } from 'vitest';
import { BufferItem, EventBuffer } from '../../src/buffer/index.js';
import { DroppedError, InternalError, ShuttingDownError } from '../../src/errors.js';
import { Cursor, FilterRegistry, FrameCache, type CursorOptions, type Prepared, type Sink } from '../../src/fanout/index.js';

interface Ev {
  topic: string;
  key: string;
  n: number;
}

class RecordingSink implements Sink {
  closed = false;
  buffered = 0;
  batches: string[][] = [];
  private release: (() => void) | null = null;

  bufferedAmount(): number {
    return this.buffered;
  }
  /** When set, written bytes stay buffered (a peer that stopped reading). */
  stalled = false;

  writeBatch(frames: readonly Uint8Array[], count: number): void {
    const batch: string[] = [];
    for (let i = 0; i < count; i++) {
      batch.push(Buffer.from(frames[i]!).toString());
      if (this.stalled) this.buffered += frames[i]!.byteLength;
    }
    this.batches.push(batch);
  }
  waitDrain(): Promise<void> {
    return new Promise((resolve) => (this.release = resolve));
  }
  drain(): void {
    this.buffered = 0;
    this.release?.();
  }
  get frames(): string[] {
    return this.batches.flat();
  }
}

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
const encoder = (index: number, events: readonly Ev[]) => Buffer.from(`${index}:${events.map((e) => e.n).join(',')}`);
const options: CursorOptions = { highWaterBytes: 1_000, dropAfterBytes: 10_000, batchBytes: 1_000 };

function setup(maxSize = 100, selectors: Array<{ topic: string; key: string | null }> | null = null) {
  const buffer = new EventBuffer<Ev>({ maxSize });
  const filters = new FilterRegistry();
  const cache = new FrameCache<Ev>([encoder]);
  const sink = new RecordingSink();
  const cursor = (opts: Partial<CursorOptions> = {}, start = buffer.tailItem()) =>
    new Cursor<Ev>(start, filters.acquire(selectors), 0, cache, sink, { ...options, ...opts });
  const append = (...ns: number[]) => buffer.append(ns.map((n) => ({ topic: n % 2 ? 'odd' : 'even', key: `k${n}`, n })));
  return { buffer, sink, cursor, append, cache };
}

describe('Cursor', () => {
  it('writes every item ready at a wake-up as one batch', async () => {
    const { sink, cursor, append } = setup();
    const run = cursor().run();
    for (let n = 1; n <= 5; n++) append(n);
    await tick();
    await tick();
    expect(sink.batches).toEqual([['1:1', '2:2', '3:3', '4:4', '5:5']]);
    sink.closed = true;
    append(6);
    await expect(run).resolves.toEqual({ reason: 'closed', lastIndex: 5 });
  });

  it('delivers only matching events and skips items with none, advancing its position past them', async () => {
    const { sink, cursor, append } = setup(100, [{ topic: 'odd', key: null }]);
    const c = cursor();
    void c.run();
    append(1, 2);
    append(2);
    append(3);
    await tick();
    await tick();
    expect(sink.frames).toEqual(['1:1', '3:3']);
    expect(c.lastIndex).toBe(3);
    c.stop();
  });

  it('starts at a given item when created from BufferItem.before', async () => {
    const { buffer, sink, cursor, append } = setup();
    for (let n = 1; n <= 4; n++) append(n);
    const c = cursor({}, BufferItem.before(buffer.startAtClosest(3).item));
    void c.run();
    await tick();
    expect(sink.frames).toEqual(['3:3', '4:4']);
    c.stop();
  });

  it('skips items below startAt (a resume index the buffer has not reached)', async () => {
    const { sink, cursor, append } = setup();
    const c = cursor({ startAt: 3 });
    void c.run();
    for (let n = 1; n <= 4; n++) append(n);
    await tick();
    await tick();
    expect(sink.frames).toEqual(['3:3', '4:4']);
    c.stop();
  });

  it('stops pulling above the high-water mark and resumes after drain', async () => {
    const { sink, cursor, append } = setup();
    void cursor({ highWaterBytes: 4 }).run();
    append(1);
    await tick();
    await tick();
    sink.stalled = true; // the peer stops reading
    append(2);
    await tick();
    await tick();
    append(3);
    await tick();
    await tick();
    // '2:2' left 3 bytes unsent, under the mark of 4, so '3:3' went too; now 6 are unsent.
    expect(sink.frames).toEqual(['1:1', '2:2', '3:3']);
    append(4);
    await tick();
    await tick();
    expect(sink.frames).toEqual(['1:1', '2:2', '3:3']); // over the mark: it waits
    sink.stalled = false;
    sink.drain();
    await tick();
    await tick();
    expect(sink.frames).toEqual(['1:1', '2:2', '3:3', '4:4']);
    sink.closed = true;
  });

  it('is dropped as "lagged" when its position is evicted while it waits for drain', async () => {
    const { sink, cursor, append } = setup(3);
    const run = cursor({ highWaterBytes: 10 }).run();
    append(1);
    await tick();
    await tick();
    sink.buffered = 50;
    append(2); // written; now above the mark
    await tick();
    await tick();
    for (let n = 3; n <= 8; n++) append(n); // evicts 2, the cursor's position
    const end = await run;
    expect(end).toMatchObject({ reason: 'dropped', cause: 'lagged', lastIndex: 2 });
  });

  it('is dropped as "backpressure" when unsent bytes pass the drop limit', async () => {
    const { sink, cursor, append } = setup();
    const run = cursor({ highWaterBytes: 10, dropAfterBytes: 20 }).run();
    sink.buffered = 25;
    append(1);
    await expect(run).resolves.toMatchObject({ reason: 'dropped', cause: 'backpressure', lastIndex: 1, bufferedBytes: 25 });
  });

  it('ends a drop with a typed DroppedError that names its cause and where it stopped (the close frame comes from the error table)', async () => {
    const { sink, cursor, append } = setup();
    const run = cursor({ highWaterBytes: 10, dropAfterBytes: 20 }).run();
    sink.buffered = 25;
    append(1);
    const end = await run;
    expect(end.reason).toBe('dropped');
    if (end.reason !== 'dropped') return;
    expect(end.error).toBeInstanceOf(DroppedError);
    expect(end.error).toMatchObject({ code: 'dropped', dropCause: 'backpressure', lastIndex: 1 });
  });

  it('ends on a fault that is not a FanwireError with an InternalError ("internal error", the fault as its cause), so no fault text reaches the peer', async () => {
    const { buffer, cursor, append } = setup();
    const run = cursor().run();
    append(1);
    const fault = new Error('secret detail');
    buffer.appendError(fault);
    const end = await run;
    expect(end.reason).toBe('error');
    if (end.reason !== 'error') return;
    expect(end.error).toBeInstanceOf(InternalError);
    expect(end.error).toMatchObject({ code: 'internal', message: 'internal error', cause: fault });
  });

  it('ends with the buffer error after writing what came before it', async () => {
    const { buffer, sink, cursor, append } = setup();
    const run = cursor().run();
    append(1);
    const err = new ShuttingDownError();
    buffer.appendError(err);
    const end = await run;
    expect(end).toEqual({ reason: 'error', error: err, lastIndex: 1 });
    expect(sink.frames).toEqual(['1:1']);
  });

  it('yields after its byte budget so one far-behind reader cannot monopolise the loop', async () => {
    const { buffer, sink, cursor, append } = setup();
    for (let n = 1; n <= 10; n++) append(n);
    void cursor({ batchBytes: 6 }, BufferItem.before(buffer.startAtClosest(1).item)).run();
    await tick();
    expect(sink.frames.length).toBeLessThan(10); // it yielded to the event loop mid-way
    for (let i = 0; i < 20 && sink.frames.length < 10; i++) await tick();
    expect(sink.batches.length).toBeGreaterThan(1);
    expect(sink.frames).toEqual(Array.from({ length: 10 }, (_, i) => `${i + 1}:${i + 1}`));
    sink.closed = true;
  });

  it('exits when stopped while parked once the buffer wakes its readers, without an append', async () => {
    const { buffer, cursor } = setup();
    const c = cursor();
    const run = c.run();
    await tick();
    c.stop();
    buffer.wakeReaders();
    await expect(run).resolves.toEqual({ reason: 'closed', lastIndex: 0 });
  });

  it('shares one encoded frame between cursors with the same filter', async () => {
    const { sink, cursor, append, cache } = setup();
    const cursors = Array.from({ length: 50 }, () => cursor());
    for (const c of cursors) void c.run();
    append(1);
    append(2);
    await tick();
    await tick();
    expect(sink.frames).toHaveLength(100);
    expect(cache.encodes).toBe(2);
    sink.closed = true;
  });

  describe('cursors woken at the same position', () => {
    /** Counts item visits: one frame lookup per item a cursor walks. */
    class CountingCache extends FrameCache<Ev> {
      lookups = 0;
      override get(...args: Parameters<FrameCache<Ev>['get']>): ReturnType<FrameCache<Ev>['get']> {
        this.lookups++;
        return super.get(...args);
      }
    }
    function shared() {
      const buffer = new EventBuffer<Ev>({ maxSize: 100 });
      const filters = new FilterRegistry();
      const cache = new CountingCache([encoder]);
      const append = (...ns: number[]) => buffer.append(ns.map((n) => ({ topic: 't', key: `k${n}`, n })));
      const cursor = (sink: Sink, opts: Partial<CursorOptions> = {}) => new Cursor<Ev>(buffer.tailItem(), filters.acquire(null), 0, cache, sink, { ...options, ...opts });
      return { buffer, cache, append, cursor };
    }

    it('write the same batch, walked once for all of them', async () => {
      const { cache, append, cursor } = shared();
      const sinks = Array.from({ length: 20 }, () => new RecordingSink());
      for (const sink of sinks) void cursor(sink).run();
      for (let n = 1; n <= 5; n++) append(n);
      await tick();
      await tick();
      for (const sink of sinks) expect(sink.batches).toEqual([['1:1', '2:2', '3:3', '4:4', '5:5']]);
      expect(cache.lookups).toBe(5);
      for (const sink of sinks) sink.closed = true;
    });

    it('each keep to their own resume index', async () => {
      const { append, cursor } = shared();
      const all = new RecordingSink();
      const resumed = new RecordingSink();
      void cursor(all).run();
      void cursor(resumed, { startAt: 3 }).run();
      for (let n = 1; n <= 5; n++) append(n);
      await tick();
      await tick();
      expect(all.batches).toEqual([['1:1', '2:2', '3:3', '4:4', '5:5']]);
      expect(resumed.batches).toEqual([['3:3', '4:4', '5:5']]);
      all.closed = resumed.closed = true;
    });

    it('each keep to their own byte budget when one socket is backed up', async () => {
      const { append, cursor } = shared();
      const healthy = new RecordingSink();
      const behind = new RecordingSink();
      // The socket holds 996 unsent bytes, which the cursor learns at its
      // first write: from then on 4 bytes of room under the high-water mark,
      // so one 3-byte frame and the next, which goes over.
      behind.buffered = 996;
      void cursor(healthy).run();
      void cursor(behind).run();
      append(1);
      await tick();
      await tick();
      for (let n = 2; n <= 6; n++) append(n);
      await tick();
      await tick();
      expect(healthy.batches).toEqual([['1:1'], ['2:2', '3:3', '4:4', '5:5', '6:6']]);
      expect(behind.batches.slice(0, 2)).toEqual([['1:1'], ['2:2', '3:3']]);
      healthy.closed = behind.closed = true;
    });

    it('see an item appended after an earlier one walked to the end', async () => {
      const { append, cursor } = shared();
      // The first cursor's write backs its socket up (so it waits for a
      // drain instead of reading on) and item 6 is appended before the
      // second cursor, at the same position, drains.
      const first = new RecordingSink();
      const writeBatch = first.writeBatch.bind(first);
      first.writeBatch = (frames, count) => {
        writeBatch(frames, count);
        if (first.batches.length === 1) {
          first.buffered = 2_000;
          append(6);
        }
      };
      const second = new RecordingSink();
      void cursor(first).run();
      void cursor(second).run();
      for (let n = 1; n <= 5; n++) append(n);
      await tick();
      await tick();
      expect(first.batches).toEqual([['1:1', '2:2', '3:3', '4:4', '5:5']]);
      expect(second.batches[0]).toEqual(['1:1', '2:2', '3:3', '4:4', '5:5', '6:6']);
      first.closed = second.closed = true;
      first.drain();
    });
  });

  describe('batch messages (batch=1)', () => {
    const batcher = (frames: readonly Prepared[], count: number) =>
      Buffer.from(`[${(frames as Uint8Array[]).slice(0, count).map((f) => Buffer.from(f).toString()).join('|')}]`);
    function batchSetup() {
      const buffer = new EventBuffer<Ev>({ maxSize: 100 });
      const filters = new FilterRegistry();
      const cache = new FrameCache<Ev>([encoder], [batcher]);
      const append = (...ns: number[]) => buffer.append(ns.map((n) => ({ topic: 't', key: `k${n}`, n })));
      const cursor = (sink: RecordingSink, opts: Partial<CursorOptions> = {}) =>
        new Cursor<Ev>(buffer.tailItem(), filters.acquire(null), 0, cache, sink, { ...options, batchMessages: true, ...opts });
      return { buffer, cache, append, cursor };
    }

    it('writes every item ready at a wake-up as one batch message, built once for all cursors at that position', async () => {
      const { cache, append, cursor } = batchSetup();
      const sinks = Array.from({ length: 20 }, () => new RecordingSink());
      for (const sink of sinks) void cursor(sink).run();
      for (let n = 1; n <= 4; n++) append(n);
      await tick();
      await tick();
      for (const sink of sinks) expect(sink.batches).toEqual([['[1:1|2:2|3:3|4:4]']]);
      expect(cache.batchesBuilt).toBe(1);
      expect(cache.encodes).toBe(4);
      for (const sink of sinks) sink.closed = true;
    });

    it('sends a lone ready item as its plain message, not a batch of one', async () => {
      const { cache, append, cursor } = batchSetup();
      const sink = new RecordingSink();
      const run = cursor(sink).run();
      append(1);
      await tick();
      await tick();
      append(2);
      append(3);
      await tick();
      await tick();
      expect(sink.batches).toEqual([['1:1'], ['[2:2|3:3]']]);
      expect(cache.batchesBuilt).toBe(1);
      sink.closed = true;
      append(4);
      await expect(run).resolves.toEqual({ reason: 'closed', lastIndex: 3 });
    });

    it('batches no more than a byte budget, so a far-behind reader still yields', async () => {
      const { append, cursor } = batchSetup();
      const sink = new RecordingSink();
      const run = cursor(sink, { batchBytes: 12 }).run();
      for (let n = 1; n <= 7; n++) append(n);
      for (let i = 0; i < 6; i++) await tick();
      // Items of 3 bytes, a budget of 12: four per message, then the rest.
      expect(sink.batches).toEqual([['[1:1|2:2|3:3|4:4]'], ['[5:5|6:6|7:7]']]);
      sink.closed = true;
      append(8);
      await run;
    });

    it('refuses to start without a batch encoder for its encoding', () => {
      const buffer = new EventBuffer<Ev>({ maxSize: 10 });
      const cache = new FrameCache<Ev>([encoder]);
      expect(() => new Cursor<Ev>(buffer.tailItem(), new FilterRegistry().acquire(null), 0, cache, new RecordingSink(), { ...options, batchMessages: true })).toThrow(TypeError);
    });
  });
});
