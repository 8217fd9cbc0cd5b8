/**
 * Cursor: one per subscriber, the loop that moves it along the buffer.
 *
 *   park on the buffer's shared wake-up  ->  drain every ready item (up to a
 *   byte budget), filter + look up each cached frame  ->  one batched write
 *   ->  if the socket is backed up, wait for drain  ->  park again
 *
 * The per-event work for a subscriber is a pointer walk and a cache lookup
 * (walk.ts, often replayed from the cursor before it): no encoding, no
 * allocation, no metrics, no logging. Those happen once per item (frame
 * cache) or once per drain (two counters on the cursor, summed by whoever
 * reports them, at report time).
 *
 * A cursor ends with a reason (`CursorEnd`, sink.ts) instead of throwing,
 * and the caller turns that into a close code. It never touches a sink after
 * the sink says it is closed (using a closed uWS socket throws).
 *
 * Falling behind (its item evicted, or too many bytes unsent) ends a cursor
 * with 'dropped' unless it was given a laggard policy (skip or conflate,
 * lag.ts): then its `lag` state (lag-state.ts) decides, on the slow paths
 * (a wake-up that found the subscriber behind or over the mark). A drop
 * cursor has no lag state; the keeping-up path pays one null test per
 * wake-up, nothing per event.
 */
import type { BufferItem } from '../buffer/index.js';
import { asFanwireError, DroppedError, type DropCause } from '../errors.js';
import type { Filter, Routable } from './filter.js';
import type { FrameCache } from './frame-cache.js';
import { LagState, type LagCursor } from './lag-state.js';
import type { LagBuffer } from './lag.js';
import type { CursorEnd, CursorOptions, CursorOwner, DrainObserver, Prepared, Sink } from './sink.js';
import { BATCHES, FRAMES, JOINS, type HandOver } from './walk.js';

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

export class Cursor<E extends Routable> implements LagCursor<E> {
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
  readonly filter: Filter;
  private readonly encoding: number;
  private readonly frames: FrameCache<E>;
  private readonly sink: Sink;
  readonly highWaterBytes: number;
  readonly dropAfterBytes: number;
  private readonly batchBytes: number;
  private readonly observer: DrainObserver<E> | null;
  readonly startAt: number;
  /** How a drain of several frames is handed over: from the transport's join capability (FrameCache.canJoin) and CursorOptions.batchMessages. */
  private readonly mode: HandOver;
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
  /** The chain `start` belongs to (CursorOptions.chain). */
  readonly chain: LagBuffer<E> | null;
  /** Laggard policy state, after everything the keeping-up path reads; null for drop. */
  private readonly lag: LagState<E> | null;

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
    this.mode = options.batchMessages === true ? BATCHES : frames.canJoin ? JOINS : FRAMES;
    if (this.mode === BATCHES && !frames.canBatch(encoding)) throw new TypeError(`batch messages need a batch encoder for encoding ${encoding}`);
    this.chain = options.chain ?? null;
    const lag = options.lag ?? null;
    if (lag !== null && this.chain === null) throw new TypeError('a cursor with a laggard policy needs its chain');
    this.lag = lag === null ? null : new LagState<E>(lag);
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

  /** Whether the buffer already evicted the item this cursor reads next: it fell behind before reading it. */
  get behind(): boolean {
    return this.item.link.next?.link.dropped === true;
  }

  /** conflate: collapsing ranges into conflated messages instead of delivering every item, until caught up. */
  get conflating(): boolean {
    return this.lag !== null && this.lag.conflating;
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
      end = this.ended(err as Error);
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
      if (this.lag !== null) this.lag.flushGap(this);
      const pressure = this.pressure();
      if (pressure === WAITING) return null;
      if (pressure !== CLEAR) return pressure;
      if (this.yieldAfterPressure) {
        this.yieldAfterPressure = false;
        return this.yieldTurn();
      }
    }
    const lag = this.lag;
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

      const exhausted = lag !== null && lag.conflating ? lag.conflate(this) : this.drain();
      if (exhausted instanceof Error) return this.ended(exhausted);
      if (this.buffered > this.highWaterBytes) {
        if (lag !== null) lag.overSince = -1;
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
    if (this.lag !== null) this.lag.watchPressure(this);
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
    if (this.lag !== null) this.lag.watchLag(this);
    yielded.push(this);
    if (!yieldScheduled) {
      yieldScheduled = true;
      setImmediate(resumeYielded);
    }
    return null;
  }

  /**
   * Writes every ready item up to the byte budget in one batch, as the
   * frame cache's walker found it (or replayed the walk of the cursor
   * before). Returns true when it stopped on the budget with more ready,
   * the buffer's error when it reached the end of a closed buffer, else false.
   */
  private drain(): boolean | Error {
    // Never write much past the high-water mark: what is over it would only
    // sit in memory, and could push a healthy reader over the drop limit.
    const room = this.highWaterBytes - this.buffered;
    const budget = room < this.batchBytes ? (room > 0 ? room : 1) : this.batchBytes;
    const walker = this.frames.walker;
    const walk = walker.from(this.item, this.filter, this.encoding, this.startAt, budget, this.mode);
    this.item = walk.to!;
    const count = walk.count;
    if (count > 0) {
      this.sink.writeBatch(walker.out, walker.outCount);
      walker.release();
      this.buffered = this.sink.bufferedAmount();
      this.framesWritten += count;
      this.eventsWritten += walk.events;
      this.bytesWritten += walk.bytes;
      this.observer?.drained(walk.first!);
    }
    return walk.failure ?? walk.more;
  }

  /**
   * The item this cursor holds was evicted ('lagged'), or its socket holds
   * more than the drop limit ('backpressure'). Returns how the cursor ends,
   * or null when its policy lets it go on.
   */
  private fellBehind(cause: DropCause): CursorEnd | null {
    const lag = this.lag;
    if (lag === null || this.buffered >= BROKEN) return this.dropped(cause);
    const failure = lag.fellBehind(this, cause);
    return failure === null ? null : this.ended(failure);
  }

  /** How the cursor ends on `failure`: a DroppedError drops it, any other error (the buffer's) ends it with that error. */
  private ended(failure: Error): CursorEnd {
    return failure instanceof DroppedError
      ? this.dropped(failure.dropCause, failure)
      : { reason: 'error', error: asFanwireError(failure), lastIndex: this.item.index };
  }

  private dropped(cause: DropCause, error = new DroppedError(cause, this.lastIndex)): CursorEnd {
    return { reason: 'dropped', error, cause, lastIndex: this.lastIndex, bufferedBytes: this.sink.closed ? 0 : this.sink.bufferedAmount() };
  }

  // LagCursor: what the lag state reads and does, on its slow paths only.

  get position(): BufferItem<E> {
    return this.item;
  }

  get unsent(): number {
    return this.buffered;
  }

  moveTo(item: BufferItem<E>): void {
    this.item = item;
  }

  writeOwn(frame: Prepared, events: number): void {
    const walker = this.frames.walker;
    walker.single(frame);
    this.sink.writeBatch(walker.out, 1);
    walker.release();
    this.buffered = this.sink.bufferedAmount();
    if (events > 0) {
      this.framesWritten++;
      this.eventsWritten += events;
      this.bytesWritten += frame.byteLength;
    }
  }
}
