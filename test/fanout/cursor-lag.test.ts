/**
 * Laggard policies at the cursor seam: a recording Sink whose unsent bytes the
 * test sets by hand, and a clock the test moves, so every skip, gap and
 * conflation pass can be checked exactly. The same behaviour over real
 * sockets is in test/gateway/lag-policies.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { BufferItem, EventBuffer } from '../../src/buffer/index.js';
import { Cursor, FilterRegistry, FrameCache, LagCounters, type CursorEnd, type CursorOptions, type LagOptions, type Sink } from '../../src/fanout/index.js';

interface Ev {
  topic: string;
  key: string;
  n: number;
}

class RecordingSink implements Sink {
  closed = false;
  buffered = 0;
  frames: string[] = [];
  private release: (() => void) | null = null;

  bufferedAmount(): number {
    return this.buffered;
  }
  writeBatch(frames: readonly Uint8Array[], count: number): void {
    for (let i = 0; i < count; i++) this.frames.push(Buffer.from(frames[i]!).toString());
  }
  waitDrain(): Promise<void> {
    return new Promise((resolve) => (this.release = resolve));
  }
  /** The peer read everything. */
  drain(): void {
    this.buffered = 0;
    this.release?.();
  }
}

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
const ticks = async (n = 3): Promise<void> => {
  for (let i = 0; i < n; i++) await tick();
};
const encoder = (index: number, events: readonly Ev[]) => Buffer.from(`${index}:${events.map((e) => e.n).join(',')}`);

function setup(opts: { maxSize?: number; selectors?: Array<{ topic: string; key: string | null }> | null; lag?: Partial<LagOptions<Ev>> } = {}) {
  const buffer = new EventBuffer<Ev>({ maxSize: opts.maxSize ?? 100 });
  const sink = new RecordingSink();
  const counters = new LagCounters();
  const clock = { now: 0 };
  const lag: LagOptions<Ev> = {
    policy: 'skip',
    skipTo: 'oldest',
    graceMs: 100,
    maxLagItems: 1000,
    fallback: 'skip',
    counters,
    now: () => clock.now,
    frames: {
      gap: (from, to, reason) => Buffer.from(`gap ${from}-${to} ${reason}`),
      conflated: (index, events) => Buffer.from(`conflated ${index}: ${events.map((e) => `${e.key}=${e.n}`).join(' ')}`),
    },
    ...opts.lag,
  };
  const filter = new FilterRegistry().acquire(opts.selectors ?? null);
  const cache = new FrameCache<Ev>([encoder]);
  const cursor = (options: Partial<CursorOptions> = {}, start: BufferItem<Ev> = buffer.tailItem()) =>
    new Cursor<Ev>(start, filter, 0, cache, sink, { highWaterBytes: 10, dropAfterBytes: 1_000, batchBytes: 1_000, lag, chain: buffer, ...options });
  /** Appends one item per n, with one event on topic "t" under key "k<n % keys>". */
  const append = (ns: number[], keys = 1000) => {
    for (const n of ns) buffer.append([{ topic: 't', key: `k${n % keys}`, n }]);
  };
  return { buffer, sink, counters, clock, cursor, append };
}

const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i);
const full = (ns: number[]): string[] => ns.map((n) => `${n}:${n}`);

describe('Cursor laggard policies', () => {
  describe('skip', () => {
    it('jumps to the oldest item held when its next item is evicted, and writes the gap with exact bounds before going on', async () => {
      const { sink, counters, cursor, append } = setup({ maxSize: 3 });
      const c = cursor();
      void c.run();
      append([1]);
      await ticks();
      sink.buffered = 50; // the peer stopped reading
      append([2]);
      await ticks();
      append(range(3, 8)); // holds 6..8: 3..5 are gone
      await ticks();
      expect(sink.frames).toEqual(full([1, 2]));
      sink.drain();
      await ticks();
      expect(sink.frames).toEqual([...full([1, 2]), 'gap 3-5 evicted', ...full([6, 7, 8])]);
      append([9]);
      await ticks();
      expect(sink.frames.at(-1)).toBe('9:9');
      expect(counters.outcomes.skip).toEqual({ gap_evicted: 1, gap_slow: 0 });
      expect(counters.skippedItems.skip).toBe(3);
      c.stop();
    });

    it('jumps to the newest item with skipTo "tail", so only later items follow the gap', async () => {
      const { sink, cursor, append } = setup({ maxSize: 3, lag: { skipTo: 'tail' } });
      const c = cursor();
      void c.run();
      append([1]);
      await ticks();
      sink.buffered = 50;
      append([2]);
      await ticks();
      append(range(3, 8));
      await ticks();
      sink.drain();
      await ticks();
      append([9]);
      await ticks();
      expect(sink.frames).toEqual([...full([1, 2]), 'gap 3-8 evicted', '9:9']);
      c.stop();
    });

    it('merges every skip made while the socket stays backed up into one gap message', async () => {
      const { sink, counters, cursor, append } = setup({ maxSize: 3 });
      const c = cursor();
      void c.run();
      append([1]);
      await ticks();
      sink.buffered = 50;
      append([2]);
      await ticks();
      for (let first = 3; first < 30; first += 3) {
        append(range(first, first + 2)); // each wake-up finds more evicted
        await ticks();
      }
      sink.drain();
      await ticks();
      expect(sink.frames).toEqual([...full([1, 2]), 'gap 3-26 evicted', ...full([27, 28, 29])]);
      expect(counters.outcomes.skip.gap_evicted).toBe(1);
      expect(counters.skippedItems.skip).toBe(24);
      c.stop();
    });

    it('sends no gap when only items it already delivered were evicted', async () => {
      const { sink, counters, cursor, append } = setup({ maxSize: 3 });
      const c = cursor();
      void c.run();
      append([1]);
      await ticks();
      sink.buffered = 50;
      append([2]);
      await ticks();
      append([3, 4, 5]); // evicts 1 and 2, the cursor's own item; 3 on are still held
      await ticks();
      sink.drain();
      await ticks();
      expect(sink.frames).toEqual(full([1, 2, 3, 4, 5]));
      expect(counters.outcomes.skip.gap_evicted).toBe(0);
      c.stop();
    });

    it('skips to the newest item with reason "slow" when unsent bytes pass the drop limit, and stays open', async () => {
      const { sink, counters, cursor, append } = setup();
      const c = cursor({ dropAfterBytes: 20 });
      const run = c.run();
      sink.buffered = 25;
      append([1]);
      await ticks();
      append([2, 3]);
      await ticks();
      sink.drain();
      await ticks();
      append([4]);
      await ticks();
      expect(sink.frames).toEqual(['1:1', 'gap 2-3 slow', '4:4']);
      expect(counters.outcomes.skip).toEqual({ gap_evicted: 0, gap_slow: 1 });
      sink.closed = true;
      append([5]);
      await expect(run).resolves.toEqual({ reason: 'closed', lastIndex: 4 });
    });

    it('still ends a cursor whose sink lost a message', async () => {
      const { sink, cursor, append } = setup();
      const run = cursor().run();
      sink.buffered = Number.MAX_SAFE_INTEGER;
      append([1]);
      await expect(run).resolves.toMatchObject({ reason: 'dropped', cause: 'backpressure' });
    });
  });

  describe('conflate', () => {
    it('after the grace period over the high-water mark, sends the newest event of each key for the range it was behind, then everything again', async () => {
      const { sink, counters, clock, cursor, append } = setup({ lag: { policy: 'conflate' } });
      const c = cursor();
      void c.run();
      append([1], 3);
      await ticks();
      sink.buffered = 50;
      append([2], 3);
      await ticks();
      clock.now = 150; // past the 100 ms grace
      append(range(3, 10), 3);
      await ticks();
      expect(c.conflating).toBe(true);
      sink.drain();
      await ticks();
      // keys: k0 <- 3, 6, 9; k1 <- 4, 7, 10; k2 <- 5, 8: newest of each, in publication order
      expect(sink.frames).toEqual([...full([1, 2]), 'conflated 10: k2=8 k0=9 k1=10']);
      expect(c.conflating).toBe(false);
      append([11, 12], 3);
      await ticks();
      expect(sink.frames.slice(3)).toEqual(full([11, 12]));
      expect(counters.outcomes.conflate).toMatchObject({ conflated: 1, fallback_skip: 0, fallback_drop: 0 });
      expect(counters.eventsConflatedAway).toBe(5);
      expect(c.eventsWritten).toBe(2 + 3 + 2);
      c.stop();
    });

    it('delivers everything when the socket drains within the grace period', async () => {
      const { sink, clock, cursor, append } = setup({ lag: { policy: 'conflate' } });
      const c = cursor();
      void c.run();
      append([1]);
      await ticks();
      sink.buffered = 50;
      append([2]);
      await ticks();
      clock.now = 50;
      append(range(3, 6));
      await ticks();
      sink.drain();
      await ticks();
      expect(sink.frames).toEqual(full(range(1, 6)));
      expect(c.conflating).toBe(false);
      c.stop();
    });

    it('conflates at once, without backpressure, a cursor more than maxLagItems behind', async () => {
      const { buffer, sink, cursor, append } = setup({ lag: { policy: 'conflate', maxLagItems: 5 } });
      append(range(1, 20), 4);
      // A budget of 4 bytes: one item per drain, so it is behind after the first.
      const c = cursor({ batchBytes: 4 }, BufferItem.before(buffer.startAtClosest(1).item));
      void c.run();
      await ticks(6);
      // Its first drain stops on the 4-byte budget with 18 items to go: more than 5.
      expect(sink.frames).toEqual(['1:1', '2:2', 'conflated 20: k1=17 k2=18 k3=19 k0=20']);
      c.stop();
    });

    it('applies the subscription filter to what it conflates', async () => {
      const { sink, clock, cursor, buffer } = setup({ lag: { policy: 'conflate', graceMs: 0 }, selectors: [{ topic: 'a', key: null }] });
      const c = cursor();
      void c.run();
      buffer.append([{ topic: 'a', key: 'x', n: 1 }]);
      await ticks();
      sink.buffered = 50;
      buffer.append([{ topic: 'a', key: 'x', n: 2 }]);
      await ticks();
      clock.now = 1;
      buffer.append([{ topic: 'a', key: 'x', n: 3 }, { topic: 'b', key: 'x', n: 4 }]);
      buffer.append([{ topic: 'b', key: 'y', n: 5 }]);
      buffer.append([{ topic: 'a', key: 'y', n: 6 }, { topic: 'a', key: 'x', n: 7 }]);
      await ticks();
      sink.drain();
      await ticks();
      expect(sink.frames).toEqual(['1:1', '2:2', 'conflated 5: y=6 x=7']);
      c.stop();
    });

    it('falls back to skip when its item is evicted anyway: a gap, then the rest conflated', async () => {
      const { sink, counters, cursor, append } = setup({ maxSize: 4, lag: { policy: 'conflate', graceMs: 1e9 } });
      const c = cursor();
      void c.run();
      append([1], 2);
      await ticks();
      sink.buffered = 50;
      append([2], 2);
      await ticks();
      append(range(3, 10), 2); // holds 7..10
      await ticks();
      sink.drain();
      await ticks();
      expect(sink.frames).toEqual([...full([1, 2]), 'gap 3-6 evicted', 'conflated 10: k1=9 k0=10']);
      expect(counters.outcomes.conflate).toEqual({ conflated: 1, fallback_skip: 1, fallback_drop: 0, gap_evicted: 1, gap_slow: 0 });
      expect(counters.skippedItems.conflate).toBe(4);
      append([11]);
      await ticks();
      expect(sink.frames.at(-1)).toBe('11:11'); // caught up: full delivery again
      c.stop();
    });

    it('falls back to drop when so configured', async () => {
      const { sink, counters, cursor, append } = setup({ maxSize: 3, lag: { policy: 'conflate', graceMs: 1e9, fallback: 'drop' } });
      const run: Promise<CursorEnd> = cursor().run();
      append([1]);
      await ticks();
      sink.buffered = 50;
      append([2]);
      await ticks();
      append(range(3, 8));
      await expect(run).resolves.toMatchObject({ reason: 'dropped', cause: 'lagged', lastIndex: 2 });
      expect(counters.outcomes.conflate.fallback_drop).toBe(1);
    });

    it('falls back when even the conflated message would not fit under the drop limit', async () => {
      const { sink, counters, clock, cursor, append } = setup({ lag: { policy: 'conflate' } });
      const c = cursor({ dropAfterBytes: 30 }); // at most 20 bytes fit above the high-water mark of 10
      void c.run();
      append([1]);
      await ticks();
      sink.buffered = 20;
      append([2]);
      await ticks();
      clock.now = 1000;
      append(range(3, 12)); // ten keys: far more than 20 bytes conflated
      await ticks();
      sink.drain();
      await ticks();
      expect(sink.frames).toEqual([...full([1, 2]), 'gap 3-12 slow']);
      expect(counters.outcomes.conflate).toMatchObject({ conflated: 0, fallback_skip: 1, gap_slow: 1 });
      c.stop();
    });
  });

  it('writes exactly what a drop cursor writes while the subscriber keeps up', async () => {
    for (const policy of ['skip', 'conflate'] as const) {
      const { sink, counters, cursor, append } = setup({ lag: { policy, graceMs: 0, maxLagItems: 1 } });
      const c = cursor();
      void c.run();
      for (let n = 1; n <= 5; n++) {
        append([n]);
        await ticks(2);
      }
      expect(sink.frames).toEqual(full(range(1, 5)));
      expect(counters.outcomes[policy]).toEqual(Object.fromEntries(Object.keys(counters.outcomes[policy]).map((k) => [k, 0])));
      c.stop();
    }
  });
});
