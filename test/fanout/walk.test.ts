/**
 * The walk a drain makes and its replay: the next cursor at the same position
 * writes what the walk before it found. The walk is remembered by the frame
 * cache it serves, one per gateway, so gateways in one process share nothing.
 * Cursors are driven by hand (`start` drains at once) so the order of walks
 * is exact.
 */
import { describe, expect, it } from 'vitest';
import { EventBuffer } from '../../src/buffer/index.js';
import { Cursor, FilterRegistry, FrameCache, type CursorOptions, type Joiner, type Prepared, type Sink } from '../../src/fanout/index.js';

interface Ev {
  topic: string;
  key: string;
  n: number;
}

class RecordingSink implements Sink {
  closed = false;
  batches: string[][] = [];
  bufferedAmount(): number {
    return 0;
  }
  writeBatch(frames: readonly Uint8Array[], count: number): void {
    const batch: string[] = [];
    for (let i = 0; i < count; i++) batch.push(Buffer.from(frames[i]!).toString());
    this.batches.push(batch);
  }
  waitDrain(): Promise<void> {
    return new Promise(() => {});
  }
}

/** Counts item visits: one frame lookup per item a cursor walks, none for a replay. */
class CountingCache extends FrameCache<Ev> {
  lookups = 0;
  override get(...args: Parameters<FrameCache<Ev>['get']>): ReturnType<FrameCache<Ev>['get']> {
    this.lookups++;
    return super.get(...args);
  }
}

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
const encoder = (index: number, events: readonly Ev[]) => Buffer.from(`${index}:${events.map((e) => e.n).join(',')}`);
const batcher = (frames: readonly Prepared[], count: number) => Buffer.from(`[${(frames as Uint8Array[]).slice(0, count).map((f) => Buffer.from(f).toString()).join('|')}]`);
const options: CursorOptions = { highWaterBytes: 1_000, dropAfterBytes: 10_000, batchBytes: 1_000 };

/** A transport's join for frames that are whole messages back to back (as ws's are). */
const concat: Joiner = (messages, count, bytes) => Buffer.concat((messages as Uint8Array[]).slice(0, count), bytes);

/** What one gateway holds: its own buffer, filters and frame cache (joining, when its transport can). */
function gateway(payload = (n: number) => n, joins = false) {
  const buffer = new EventBuffer<Ev>({ maxSize: 100 });
  const filters = new FilterRegistry();
  const cache = new CountingCache([encoder], [batcher], joins ? concat : null);
  /** One item per number. */
  const append = (...ns: number[]) => {
    for (const n of ns) buffer.append([{ topic: 't', key: `k${n}`, n: payload(n) }]);
  };
  /** A cursor at the current tail, started later by hand. */
  const cursor = (sink: RecordingSink, opts: Partial<CursorOptions> = {}) => new Cursor<Ev>(buffer.tailItem(), filters.acquire(null), 0, cache, sink, { ...options, ...opts });
  return { cache, append, cursor };
}

const start = (cursor: Cursor<Ev>): void => cursor.start({ cursorEnded: () => {} });

describe('Walker', () => {
  it('belongs to its frame cache: a walk on another gateway neither replaces nor serves the one remembered here', () => {
    const a = gateway();
    const b = gateway((n) => n + 100);
    const a1 = new RecordingSink();
    const b1 = new RecordingSink();
    const a2 = new RecordingSink();
    const cursors = [a.cursor(a1), b.cursor(b1), a.cursor(a2)];
    a.append(1, 2, 3);
    b.append(1, 2, 3);
    for (const c of cursors) start(c);
    expect(a.cache.walker).not.toBe(b.cache.walker);
    expect(a1.batches).toEqual([['1:1', '2:2', '3:3']]);
    expect(b1.batches).toEqual([['1:101', '2:102', '3:103']]);
    // b1 walked in between, on its own cache; a2 still replays a1's walk.
    expect(a2.batches).toEqual(a1.batches);
    expect(a.cache.lookups).toBe(3);
    expect(b.cache.lookups).toBe(3);
  });

  describe('a replay writes the same bytes as a fresh walk', () => {
    const handOvers: Array<[string, boolean, Partial<CursorOptions>]> = [
      ['frames as they are', false, {}],
      ['one joined buffer', true, {}],
      ['one batch message', false, { batchMessages: true }],
    ];
    for (const [name, joins, opts] of handOvers) {
      it(`as ${name}`, () => {
        const shared = gateway(undefined, joins);
        const alone = gateway(undefined, joins);
        const walked = new RecordingSink();
        const replayed = new RecordingSink();
        const fresh = new RecordingSink();
        const cursors = [shared.cursor(walked, opts), shared.cursor(replayed, opts), alone.cursor(fresh, opts)];
        shared.append(1, 2, 3, 4);
        alone.append(1, 2, 3, 4);
        for (const c of cursors) start(c);
        expect(shared.cache.lookups).toBe(4);
        expect(replayed.batches).toEqual(walked.batches);
        expect(replayed.batches).toEqual(fresh.batches);
      });
    }
  });

  it('replays a walk that stopped on its byte budget, and the next turn goes on from where it ended', async () => {
    const { cache, append, cursor } = gateway();
    const walked = new RecordingSink();
    const replayed = new RecordingSink();
    // Frames of 3 bytes, a budget of 6: two per turn.
    const cursors = [cursor(walked, { batchBytes: 6 }), cursor(replayed, { batchBytes: 6 })];
    append(1, 2, 3, 4, 5);
    for (const c of cursors) start(c);
    for (let i = 0; i < 4; i++) await tick();
    expect(walked.batches).toEqual([['1:1', '2:2'], ['3:3', '4:4'], ['5:5']]);
    expect(replayed.batches).toEqual(walked.batches);
    expect(cache.lookups).toBe(5);
  });

  it('forgets the walk on the next macrotask, so it keeps no items for a cursor that comes later', async () => {
    const { cache, append, cursor } = gateway();
    const early = new RecordingSink();
    const late = new RecordingSink();
    const [first, second] = [cursor(early), cursor(late)];
    append(1, 2, 3);
    start(first!);
    await tick();
    start(second!);
    expect(late.batches).toEqual(early.batches);
    expect(cache.lookups).toBe(6);
  });

  it('walks afresh for a cursor whose resume index falls inside the remembered range', () => {
    const { cache, append, cursor } = gateway();
    const all = new RecordingSink();
    const resumed = new RecordingSink();
    const cursors = [cursor(all), cursor(resumed, { startAt: 3 })];
    append(1, 2, 3, 4);
    for (const c of cursors) start(c);
    expect(all.batches).toEqual([['1:1', '2:2', '3:3', '4:4']]);
    expect(resumed.batches).toEqual([['3:3', '4:4']]);
    expect(cache.lookups).toBe(6);
  });
});
