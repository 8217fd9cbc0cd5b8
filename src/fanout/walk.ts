/**
 * The walk a drain makes: from a cursor's position along every ready item,
 * up to a byte budget, collecting each item's cached frame into one batch
 * (joined into one message by the transport, or one batch message, when
 * the hand-over asks).
 * And the memory of the last walk, so the next cursor there replays it.
 *
 * Caught-up cursors of one filter wake one after another at the same
 * position and would each walk the same items to the same batch: 10k
 * subscribers x 300 items was 3M item visits per burst. The next cursor at
 * that position (same link, filter, encoding, byte budget and hand-over,
 * nothing before its resume point in the range, and nothing appended since
 * when the walk reached the end) writes what the walk found instead.
 * Forgotten on the next macrotask, so it never keeps items alive.
 *
 * One Walker per FrameCache, made and held by it: the walk it remembers is
 * of that cache's frames, and two gateways in one process (two caches)
 * share no walk and no scratch batch.
 *
 *   cursor.drain -> walker.from(position, ...) -> Walk (replayed or fresh)
 *                -> sink.writeBatch(walker.out, walker.outCount)
 *                -> walker.release()
 */
import type { BufferItem, BufferLink } from '../buffer/index.js';
import type { Filter, Routable } from './filter.js';
import type { FrameCache } from './frame-cache.js';
import type { Prepared } from './sink.js';

/** How a cursor hands over a walk of several frames: as they are, joined into one buffer, or as one batch message. */
export const FRAMES = 0;
export const JOINS = 1;
export const BATCHES = 2;
export type HandOver = typeof FRAMES | typeof JOINS | typeof BATCHES;

const EMPTY: Prepared = new Uint8Array(0);

/** One walk: what it started from (the replay key) and what it found. */
export class Walk<E> {
  link: BufferLink<E> | null = null;
  filter: Filter | null = null;
  encoding = -1;
  budget = 0;
  mode: HandOver = FRAMES;
  /** Index of the first item after `link` when walked: a cursor resuming past it would skip some. */
  firstIndex = 0;
  /** Stopped on the budget with more ready. */
  more = false;
  /** The last item walked: where the cursor goes. */
  to: BufferItem<E> | null = null;
  /** The oldest item written (for the drain observer). */
  first: BufferItem<E> | null = null;
  /** Frames found, the events and bytes in them. */
  count = 0;
  bytes = 0;
  events = 0;
  /** The buffer's error, when the walk reached its error item (such a walk is not replayed). */
  failure: Error | null = null;
  /** For a replay: the one buffer written (a single frame, a joined batch or a batch message)... */
  message: Prepared | null = null;
  /** ...or the frames, for a sink that takes several (FRAMES with count > 1). */
  list: Prepared[] | null = null;
}

export class Walker<E extends Routable> {
  /**
   * The batch every drain fills and hands to its sink: drains run one at a
   * time and sinks do not keep the array, so one per cache is enough (a
   * per-cursor array would keep its high-water length, after a burst, for
   * every subscriber).
   */
  readonly batch: Prepared[] = [];
  /** What the cursor writes next: `out[0, outCount)`. */
  out: Prepared[] = this.batch;
  outCount = 0;
  /** Entries of `batch` holding a frame until `release`. */
  private filled = 0;
  /** The walk a replay may reuse; `spare` takes the next fresh walk, and the two swap when it is worth keeping. */
  private last = new Walk<E>();
  private spare = new Walk<E>();
  private forgetScheduled = false;
  private readonly frames: FrameCache<E>;

  constructor(frames: FrameCache<E>) {
    this.frames = frames;
  }

  /**
   * What a drain from `item` writes: the last walk, when it started there
   * and holds for this cursor, else a fresh walk. The caller writes
   * `out[0, outCount)`, then calls `release`.
   */
  from(item: BufferItem<E>, filter: Filter, encoding: number, startAt: number, budget: number, mode: HandOver): Walk<E> {
    const w = this.last;
    if (
      w.link === item.link &&
      w.filter === filter &&
      w.encoding === encoding &&
      w.budget === budget &&
      w.mode === mode &&
      startAt <= w.firstIndex &&
      (w.more || w.to!.link.next === null)
    ) {
      if (w.list !== null) {
        this.out = w.list;
        this.outCount = w.count;
      } else {
        this.out = this.batch;
        this.outCount = w.count > 0 ? this.single(w.message!) : 0;
      }
      return w;
    }
    return this.walk(item, filter, encoding, startAt, budget, mode);
  }

  /** Puts one message in the batch as all there is to write (a replay, a gap, a conflated message); returns 1. */
  single(message: Prepared): 1 {
    this.batch[0] = message;
    this.out = this.batch;
    this.outCount = 1;
    if (this.filled === 0) this.filled = 1;
    return 1;
  }

  /** After the write: lets go of the frames, so evicted items can be collected. */
  release(): void {
    const batch = this.batch;
    for (let i = 0; i < this.filled; i++) batch[i] = EMPTY;
    this.filled = 0;
    this.out = batch;
    this.outCount = 0;
  }

  private walk(item: BufferItem<E>, filter: Filter, encoding: number, startAt: number, budget: number, mode: HandOver): Walk<E> {
    const frames = this.frames;
    const batch = this.batch;
    const link = item.link;
    let next = link.next;
    const firstIndex = next === null ? 0 : next.index;
    let count = 0;
    let bytes = 0;
    let events = 0;
    let first: BufferItem<E> | null = null;
    let failure: Error | null = null;
    let skipped = false;
    while (next !== null && bytes < budget) {
      if (next.error !== null) {
        failure = next.error;
        break;
      }
      if (next.index >= startAt) {
        const frame = frames.get(next, filter, encoding);
        if (frame !== null) {
          if (count === 0) first = next;
          batch[count++] = frame;
          bytes += frame.byteLength;
          events += frames.lastEvents;
        }
      } else {
        skipped = true;
      }
      item = next;
      next = item.link.next;
    }
    // The cursors of a filter wake one after another at the same position:
    // the next one there replays this walk instead of repeating it.
    const remember = failure === null && !skipped;
    const w = this.spare;
    if (remember) {
      this.spare = this.last;
      this.last = w;
      w.link = link;
      w.filter = filter;
      w.encoding = encoding;
      w.budget = budget;
      w.mode = mode;
      w.firstIndex = firstIndex;
      w.message = null;
      w.list = null;
    }
    // What the cursor reads; a walk not remembered sets only these.
    w.more = next !== null;
    w.to = item;
    w.first = first;
    w.count = count;
    w.bytes = bytes;
    w.events = events;
    w.failure = failure;
    this.filled = count;
    this.out = batch;
    this.outCount = count;
    if (count > 1 && mode !== FRAMES) {
      // Every cursor of this filter and encoding at the same position writes
      // these same bytes: built once, shared, one write (or message) each.
      const one =
        mode === BATCHES
          ? frames.batched(first!.index, item.index, count, filter, encoding, batch)
          : frames.joined(first!.index, item.index, count, bytes, filter, encoding, batch);
      this.single(one);
      if (remember) w.message = one;
    } else if (remember) {
      if (count === 1) w.message = batch[0]!;
      else if (count > 1) w.list = batch.slice(0, count);
    }
    if (!this.forgetScheduled) {
      this.forgetScheduled = true;
      setImmediate(forgetWalks, this);
    }
    return w;
  }

  /** Drops both walks' references (items, frames, filter), so a remembered walk keeps nothing alive. */
  forget(): void {
    this.forgetScheduled = false;
    clear(this.last);
    clear(this.spare);
  }
}

function forgetWalks(walker: Walker<any>): void {
  walker.forget();
}

function clear(w: Walk<unknown>): void {
  w.link = null;
  w.filter = null;
  w.to = null;
  w.first = null;
  w.failure = null;
  w.message = null;
  w.list = null;
}
