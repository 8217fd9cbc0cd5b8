/**
 * Cursor: one per subscriber, the loop that moves it along the buffer.
 *
 *   park on the buffer's shared wake-up  ->  drain every ready item (up to a
 *   byte budget), filter + look up each cached frame  ->  one batched write
 *   ->  if the socket is backed up, wait for drain  ->  park again
 *
 * The per-event work for a subscriber is a pointer walk and a cache lookup:
 * no encoding, no allocation, no metrics, no logging. Those happen once per
 * item (frame cache) or once per drain (two counters on the cursor, summed
 * by whoever reports them, at report time).
 *
 * A cursor ends with a reason (`CursorEnd`, sink.ts) instead of throwing, and the
 * caller turns that into a close code. It never touches a sink after the sink
 * says it is closed (using a closed uWS socket throws).
 *
 * Falling behind (its item evicted, or too many bytes unsent) ends a cursor
 * with 'dropped' unless it was given a laggard policy (`lag`, see lag.ts):
 *
 *   drop       -> end 'dropped' (the caller closes 4001)
 *   skip       -> note a gap [from, to], jump (oldest held | tail), go on;
 *                 the gap message is written before anything else, once the
 *                 socket is under the high-water mark (gaps not yet written
 *                 merge into one)
 *   conflate   -> over the high-water mark longer than the grace period, or
 *                 too many items behind: "conflating" until caught up, each
 *                 pass one conflated message for everything ready; evicted
 *                 or past the drop limit anyway: fall back to skip or drop
 *
 * All of that runs on the slow paths (a wake-up that found the subscriber
 * behind); the keeping-up path pays one field test per wake-up, nothing per
 * event.
 */
import { BufferItem, type BufferLink } from '../buffer/index.js';
import { DroppedError, type DropCause } from '../errors.js';
import { conflateRange } from './conflate.js';
import type { Filter, Routable } from './filter.js';
import type { FrameCache } from './frame-cache.js';
import type { GapReason, LagBuffer, LagOptions } from './lag.js';
import type { CursorEnd, CursorOptions, CursorOwner, DrainObserver, Sink } from './sink.js';

const CLEAR = 0;
const WAITING = 1;

/** Cursors that stopped on their byte budget, resumed together on the next macrotask. */
let yielded: Cursor<any>[] = [];
let yieldedSpare: Cursor<any>[] = [];
let yieldScheduled = false;
function resumeYielded(): void {
  yieldScheduled = false;
  const list = yielded;
  yielded = yieldedSpare;
  yieldedSpare = list;
  for (let i = 0; i < list.length; i++) list[i]!.wake();
  list.length = 0;
}

/** What a sink reports once it lost a message: no policy can describe that hole, so the cursor ends. */
const BROKEN = Number.MAX_SAFE_INTEGER;

export class Cursor<E extends Routable> {
  /** The last item this cursor has passed (delivered or filtered out). */
  private item: BufferItem<E>;
  private stopped = false;
  /**
   * Unsent bytes on the socket as of the last write or drain wake-up. Only
   * writes raise it, so between them it is a safe upper bound, and the hot
   * path asks the socket (a native call on uWS) once per drain, not twice.
   */
  private buffered = 0;
  /** Messages and bytes written so far; plain fields so counting costs nothing per event. */
  framesWritten = 0;
  eventsWritten = 0;
  bytesWritten = 0;
  /** True while the socket is over the high-water mark and the cursor waits for it to drain. */
  backpressured = false;
  /** conflate: collapsing ranges into conflated messages instead of delivering every item, until caught up. */
  conflating = false;
  private readonly filter: Filter;
  private readonly encoding: number;
  private readonly frames: FrameCache<E>;
  private readonly sink: Sink;
  private readonly highWaterBytes: number;
  private readonly dropAfterBytes: number;
  private readonly batchBytes: number;
  private readonly observer: DrainObserver<E> | null;
  private readonly startAt: number;
  /** The sink takes joined frames (Sink.joinsFrames). */
  private readonly joins: boolean;
  /** The subscriber takes batch messages (CursorOptions.batchMessages). */
  private readonly batches: boolean;
  /** Told how the loop ended; null before `start` and after the end. */
  private owner: CursorOwner | null = null;
  /** In its chain's wake-up list. */
  private parked = false;
  /** Over the high-water mark, waiting for a drain (or an append). */
  private pressured = false;
  /** A callback is on the sink's drain promise. */
  private drainHooked = false;
  /** The drain before the wait stopped on its budget: yield once the socket is under the mark again. */
  private yieldAfterPressure = false;
  // Policy state last, after everything the keeping-up path reads, so those
  // fields stay together in the object.
  private readonly lag: LagOptions<E> | null;
  private readonly chain: LagBuffer<E> | null;
  /** When the socket went over the mark (lag clock), for conflate's grace period; -1 when not measuring. */
  private overSince = -1;
  /** A gap decided but not yet written (the socket is over the mark): items gapFrom..gapTo; gapFrom 0 when none. */
  private gapFrom = 0;
  private gapTo = 0;
  private gapReason: GapReason = 'evicted';

  /**
   * @param start the position to read after: the tail for a live subscriber,
   *   `BufferItem.before(first)` to deliver `first` next.
   * @param options read once; the cursor keeps its values, not the object
   */
  constructor(start: BufferItem<E>, filter: Filter, encoding: number, frames: FrameCache<E>, sink: Sink, options: CursorOptions) {
    this.item = start;
    this.filter = filter;
    this.encoding = encoding;
    this.frames = frames;
    this.sink = sink;
    this.highWaterBytes = options.highWaterBytes;
    this.dropAfterBytes = options.dropAfterBytes;
    this.batchBytes = options.batchBytes;
    this.observer = options.observer ?? null;
    this.startAt = options.startAt ?? 0;
    this.joins = sink.joinsFrames === true;
    this.batches = options.batchMessages === true;
    if (this.batches && !frames.canBatch(encoding)) throw new TypeError(`batch messages need a batch encoder for encoding ${encoding}`);
    this.lag = options.lag ?? null;
    this.chain = options.chain ?? null;
    if (this.lag !== null && this.chain === null) throw new TypeError('a cursor with a laggard policy needs its chain');
  }

  /** The item this cursor will deliver next, when it has been appended. */
  get nextItem(): BufferItem<E> | null {
    return this.item.link.next;
  }

  /**
   * Index of the last item passed (delivered or filtered out); the subscriber
   * resumes at this + 1. On a view the items in between were never there for
   * this filter, and at its tail the cursor has passed the buffer's newest.
   */
  get lastIndex(): number {
    const item = this.item;
    const next = item.link.next;
    if (next !== null && next.error === null) return next.index - 1;
    const chain = this.chain;
    return chain !== null && chain.newestIndex > item.index ? chain.newestIndex : item.index;
  }

  /**
   * Ends the loop at its next wake-up. A cursor parked on an idle buffer
   * stays parked until `EventBuffer.wakeReaders()` or the next append.
   */
  stop(): void {
    this.stopped = true;
  }

  private get done(): boolean {
    return this.stopped || this.sink.closed;
  }

  /**
   * Starts the loop; `owner.cursorEnded` is called once, with how it ended.
   * The loop runs on callbacks, not an async function: a parked cursor is a
   * slot in its chain's wake-up list, so an idle subscriber costs no async
   * frame or promise, and a wake-up allocates nothing per subscriber.
   */
  start(owner: CursorOwner): void {
    this.owner = owner;
    this.wake();
  }

  /** `start` as a promise, for callers that prefer to await the end. */
  run(): Promise<CursorEnd> {
    return new Promise((resolve) => this.start({ cursorEnded: resolve }));
  }

  /** Runs the loop until it has to wait (Wakeable: called by the chain's waker, a drain, or a yield). */
  wake(): void {
    const owner = this.owner;
    if (owner === null) return;
    this.parked = false;
    let end: CursorEnd | null;
    try {
      end = this.advance();
    } catch (err) {
      end = err instanceof DroppedError ? this.dropped(err.dropCause) : { reason: 'error', error: err as Error, lastIndex: this.item.index };
    }
    if (end !== null) {
      this.owner = null;
      owner.cursorEnded(end);
    }
  }

  /** The loop: returns how the cursor ends, or null once it waits for a wake-up. */
  private advance(): CursorEnd | null {
    if (this.pressured) {
      // Woken while over the high-water mark: by a drain, or by an append.
      if (this.done) return { reason: 'closed', lastIndex: this.lastIndex };
      if (this.item.link.next?.link.dropped === true) {
        const end = this.fellBehind('lagged');
        if (end !== null) return end;
      }
      this.buffered = this.sink.bufferedAmount();
      // Under the mark again: the time to tell of the skips made meanwhile.
      if (this.gapFrom !== 0 && this.buffered <= this.highWaterBytes) this.writeGap();
      const pressure = this.pressure();
      if (pressure === WAITING) return null;
      if (pressure !== CLEAR) return pressure;
      if (this.yieldAfterPressure) {
        this.yieldAfterPressure = false;
        return this.yieldTurn();
      }
    }
    for (;;) {
      if (this.done) return { reason: 'closed', lastIndex: this.lastIndex };
      const next = this.item.link.next;
      if (next === null) {
        this.park();
        return null;
      }
      // Behind when the next item to deliver is gone. Nomad drops a reader
      // whose current item was evicted; on a view that item may be far
      // older than the next one without anything having been lost.
      if (next.link.dropped) {
        const end = this.fellBehind('lagged');
        if (end !== null) return end;
        continue;
      }

      const exhausted = this.conflating ? this.conflate() : this.drain();
      if (exhausted instanceof Error) {
        if (exhausted instanceof DroppedError) return this.dropped(exhausted.dropCause);
        return { reason: 'error', error: exhausted, lastIndex: this.item.index };
      }
      if (this.buffered > this.highWaterBytes) {
        this.overSince = -1;
        const pressure = this.pressure();
        if (pressure === WAITING) {
          this.yieldAfterPressure = exhausted;
          return null;
        }
        if (pressure !== CLEAR) return pressure;
      }
      if (exhausted) return this.yieldTurn();
    }
  }

  /**
   * Over the high-water mark: drops (or lets a policy act) past the drop
   * limit, else waits for a drain. CLEAR when under the mark, WAITING once
   * parked, or how the cursor ends.
   */
  private pressure(): CursorEnd | typeof CLEAR | typeof WAITING {
    if (this.buffered <= this.highWaterBytes) {
      this.pressured = false;
      this.backpressured = false;
      return CLEAR;
    }
    if (this.buffered > this.dropAfterBytes) {
      const end = this.fellBehind('backpressure');
      if (end !== null) return end;
    }
    this.backpressured = true;
    if (this.lag !== null && !this.conflating) this.overSince = this.watchPressure(this.overSince);
    this.pressured = true;
    // Wake on drain, and on appends too: a reader stuck behind a dead socket
    // must notice its next item being evicted, or it would pin every item
    // appended since. Only this slow path allocates (one callback per drain wait).
    if (!this.drainHooked) {
      this.drainHooked = true;
      this.sink.waitDrain().then(() => {
        this.drainHooked = false;
        this.wake();
      });
    }
    this.park();
    return WAITING;
  }

  /** Parks on the chain's wake-up, once however many times it is asked. */
  private park(): void {
    if (this.parked) return;
    this.parked = true;
    this.item.link.waker.park(this);
  }

  /** Stopped on the byte budget with more ready: let the other cursors (and I/O) run first. */
  private yieldTurn(): null {
    if (this.lag !== null && !this.conflating) this.watchLag();
    yielded.push(this);
    if (!yieldScheduled) {
      yieldScheduled = true;
      setImmediate(resumeYielded);
    }
    return null;
  }

  /**
   * Walks every ready item up to the byte budget and writes the frames in one
   * batch. Returns true when it stopped on the budget with more ready, the
   * buffer's error when it reached the end of a closed buffer, else false.
   */
  private drain(): boolean | Error {
    const { frames, filter, encoding } = this;
    // Never write much past the high-water mark: what is over it would only
    // sit in memory, and could push a healthy reader over the drop limit.
    const room = this.highWaterBytes - this.buffered;
    const budget = room < this.batchBytes ? (room > 0 ? room : 1) : this.batchBytes;
    const mode = this.batches ? BATCHES : this.joins ? JOINS : FRAMES;
    const w = WALK;
    const link = this.item.link;
    if (
      w.link === link &&
      w.filter === filter &&
      w.encoding === encoding &&
      w.frames === frames &&
      w.budget === budget &&
      w.mode === mode &&
      this.startAt <= w.firstIndex &&
      (w.more || w.to!.link.next === null)
    ) {
      return this.replay(w);
    }
    const batch = BATCH;
    let item = this.item;
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
      if (next.index >= this.startAt) {
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
    this.item = item;
    // The cursors of a filter wake one after another at the same position:
    // the next one there replays this walk instead of repeating it.
    const remember = failure === null && !skipped;
    if (remember) {
      w.link = link;
      w.filter = filter;
      w.encoding = encoding;
      w.frames = frames;
      w.budget = budget;
      w.mode = mode;
      w.firstIndex = firstIndex;
      w.more = next !== null;
      w.to = item;
      w.first = first;
      w.count = count;
      w.bytes = bytes;
      w.events = events;
      w.message = null;
      w.list = null;
      if (!walkClearScheduled) {
        walkClearScheduled = true;
        setImmediate(forgetWalk);
      }
    }
    if (count > 0) {
      if (count > 1 && mode !== FRAMES) {
        // Every cursor of this filter and encoding at the same position writes
        // these same bytes: built once, shared, one write (or message) each.
        const one =
          mode === BATCHES
            ? frames.batched(first!.index, item.index, count, filter, encoding, batch)
            : frames.joined(first!.index, item.index, count, bytes, filter, encoding, batch);
        for (let i = 1; i < count; i++) batch[i] = EMPTY;
        batch[0] = one;
        if (remember) w.message = one;
        this.sink.writeBatch(batch, 1);
      } else {
        if (remember) {
          if (count === 1) w.message = batch[0]!;
          else w.list = batch.slice(0, count);
        }
        this.sink.writeBatch(batch, count);
        for (let i = 1; i < count; i++) batch[i] = EMPTY;
      }
      // Let go of the frames so evicted items can be collected.
      batch[0] = EMPTY;
      this.wrote(count, events, bytes, first!);
    }
    if (failure !== null) return failure;
    return next !== null;
  }

  /** Writes what the last walk from this cursor's position found, and moves to where it ended. */
  private replay(w: typeof WALK): boolean {
    this.item = w.to as BufferItem<E>;
    const count = w.count;
    if (count > 0) {
      if (w.list !== null) {
        this.sink.writeBatch(w.list, count);
      } else {
        const batch = BATCH;
        batch[0] = w.message!;
        this.sink.writeBatch(batch, 1);
        batch[0] = EMPTY;
      }
      this.wrote(count, w.events, w.bytes, w.first as BufferItem<E>);
    }
    return w.more;
  }

  private wrote(count: number, events: number, bytes: number, first: BufferItem<E>): void {
    this.buffered = this.sink.bufferedAmount();
    this.framesWritten += count;
    this.eventsWritten += events;
    this.bytesWritten += bytes;
    this.observer?.drained(first);
  }

  /**
   * The item this cursor holds was evicted ('lagged'), or its socket holds
   * more than the drop limit ('backpressure'). Returns how the cursor ends,
   * or null when its policy lets it go on.
   */
  private fellBehind(cause: DropCause): CursorEnd | null {
    const lag = this.lag;
    if (lag === null || this.buffered >= BROKEN) return this.dropped(cause);
    if (lag.policy === 'conflate') {
      // Even conflated delivery could not keep up.
      if (lag.fallback === 'drop') {
        lag.counters.outcomes.conflate.fallback_drop++;
        return this.dropped(cause);
      }
      this.conflating = true;
    }
    return this.skip(lag, cause);
  }

  /**
   * Jumps: after an eviction to the oldest item held (or the newest, with
   * skipTo 'tail'); past the drop limit to the newest, since the items up to
   * here are already in the socket. Notes the items jumped over as a gap,
   * written at once unless the socket is over the mark (then by the drain
   * wait, merged with any later skip).
   */
  private skip(lag: LagOptions<E>, cause: DropCause): CursorEnd | null {
    const buffer = this.chain!;
    const tail = buffer.tailItem();
    if (tail.error !== null) return { reason: 'error', error: tail.error, lastIndex: this.item.index };
    const target = cause === 'backpressure' || lag.skipTo === 'tail' || buffer.length === 0 ? tail : BufferItem.before(buffer.headItem());
    const from = Math.max(this.item.index + 1, this.startAt);
    if (target.index >= from) {
      if (this.gapFrom === 0) {
        this.gapFrom = from;
        this.gapReason = cause === 'lagged' ? 'evicted' : 'slow';
        if (lag.policy === 'conflate') lag.counters.outcomes.conflate.fallback_skip++;
      }
      this.gapTo = target.index;
    }
    this.item = target;
    if (this.gapFrom !== 0 && this.buffered <= this.highWaterBytes) this.writeGap();
    return null;
  }

  /** Writes the pending gap message (one for every skip since the last write). */
  private writeGap(): void {
    const lag = this.lag!;
    const { gapFrom: from, gapTo: to, gapReason: reason } = this;
    this.gapFrom = 0;
    BATCH[0] = lag.frames.gap(from, to, reason);
    this.sink.writeBatch(BATCH, 1);
    BATCH[0] = EMPTY;
    this.buffered = this.sink.bufferedAmount();
    const outcomes = lag.counters.outcomes[lag.policy];
    if (reason === 'evicted') outcomes.gap_evicted++;
    else outcomes.gap_slow++;
    lag.counters.skippedItems[lag.policy] += to - from + 1;
  }

  /**
   * conflate, at each wake-up of a drain wait: over the high-water mark since
   * `overSince` for longer than the grace period, or too far behind. Returns
   * when the wait began (the first call of a wait sets it).
   */
  private watchPressure(overSince: number): number {
    const lag = this.lag!;
    if (lag.policy !== 'conflate') return overSince;
    const now = lag.now();
    if (overSince < 0) overSince = now;
    if (now - overSince >= lag.graceMs || this.chain!.newestIndex - this.item.index > lag.maxLagItems) this.conflating = true;
    return overSince;
  }

  /** conflate, after a drain that stopped on its budget: too far behind. */
  private watchLag(): void {
    const lag = this.lag!;
    if (lag.policy === 'conflate' && this.chain!.newestIndex - this.item.index > lag.maxLagItems) this.conflating = true;
  }

  /**
   * One conflation pass: everything ready becomes one conflated message,
   * encoded here for this subscriber alone. Caught up (back to full
   * delivery) when the socket takes it and stays under the mark. Returns
   * false, or the buffer's error as drain does, or a DroppedError when the
   * message would not fit under the drop limit and the fallback is drop.
   */
  private conflate(): false | Error {
    const lag = this.lag!;
    const range = conflateRange(this.item, this.filter, this.startAt);
    const kept = range.events.length;
    if (kept > 0) {
      const frame = lag.frames.conflated(range.last.index, range.events);
      if (frame.byteLength > this.dropAfterBytes - this.highWaterBytes) {
        // Newest-per-key is still too much to send: conflation cannot keep up.
        if (lag.fallback === 'drop') {
          lag.counters.outcomes.conflate.fallback_drop++;
          return new DroppedError('backpressure', this.item.index);
        }
        this.skip(lag, 'backpressure');
        if (this.buffered <= this.highWaterBytes) this.conflating = false;
        return range.error ?? false;
      }
      BATCH[0] = frame;
      this.sink.writeBatch(BATCH, 1);
      BATCH[0] = EMPTY;
      this.buffered = this.sink.bufferedAmount();
      this.framesWritten++;
      this.eventsWritten += kept;
      this.bytesWritten += frame.byteLength;
      lag.counters.outcomes.conflate.conflated++;
      lag.counters.eventsConflatedAway += range.matched - kept;
    }
    this.item = range.last;
    if (this.buffered <= this.highWaterBytes) this.conflating = false;
    return range.error ?? false;
  }

  private dropped(cause: DropCause): CursorEnd {
    return { reason: 'dropped', cause, lastIndex: this.lastIndex, bufferedBytes: this.sink.closed ? 0 : this.sink.bufferedAmount() };
  }
}

const EMPTY = new Uint8Array(0);
/**
 * The batch every cursor fills and hands to its sink: drains run one at a
 * time and sinks do not keep the array, so one is enough (a per-cursor array
 * would keep its high-water length, after a burst, for every subscriber).
 */
const BATCH: Uint8Array[] = [];

/** How a cursor hands over a walk of several frames: as they are, joined into one buffer, or as one batch message. */
const FRAMES = 0;
const JOINS = 1;
const BATCHES = 2;

/**
 * The last drain's walk. Caught-up cursors of one filter wake one after
 * another at the same position and would each walk the same items to the
 * same batch: 10k subscribers x 300 items was 3M item visits per burst. The
 * next cursor at that position (same link, filter, encoding, byte budget and
 * hand-over, nothing before its resume point in the range, and nothing
 * appended since when the walk reached the end) writes what the walk found
 * instead. Forgotten on the next macrotask, so it never keeps items alive.
 */
const WALK = {
  link: null as BufferLink<any> | null,
  filter: null as Filter | null,
  encoding: -1,
  frames: null as FrameCache<any> | null,
  budget: 0,
  mode: FRAMES,
  /** Index of the first item after `link` when walked: a cursor resuming past it would skip some. */
  firstIndex: 0,
  /** Stopped on the budget with more ready. */
  more: false,
  to: null as BufferItem<any> | null,
  first: null as BufferItem<any> | null,
  count: 0,
  bytes: 0,
  events: 0,
  /** The one buffer written (a single frame, a joined batch or a batch message)... */
  message: null as Uint8Array | null,
  /** ...or the frames, for a sink that takes several (FRAMES with count > 1). */
  list: null as Uint8Array[] | null,
};
let walkClearScheduled = false;
function forgetWalk(): void {
  walkClearScheduled = false;
  WALK.link = null;
  WALK.filter = null;
  WALK.frames = null;
  WALK.to = null;
  WALK.first = null;
  WALK.message = null;
  WALK.list = null;
}
