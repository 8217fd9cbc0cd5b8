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
 * A cursor ends with a reason (`CursorEnd`) instead of throwing, and the
 * caller turns that into a close code. It never touches a sink after the sink
 * says it is closed (using a closed uWS socket throws).
 */
import type { BufferItem } from '../buffer/index.js';
import { DroppedError, type DropCause } from '../errors.js';
import type { Filter, Routable } from './filter.js';
import type { FrameCache } from './frame-cache.js';

/** The connection as the fan-out sees it. Implemented by each transport. */
export interface Sink {
  /** True once the connection closed; checked after every await. */
  readonly closed: boolean;
  /** Bytes accepted but not yet handed to the kernel. */
  bufferedAmount(): number;
  /** Writes `count` messages from `frames` as one batch (one syscall where the transport can). */
  writeBatch(frames: readonly Uint8Array[], count: number): void;
  /** Resolves when the connection can take more (or closed). One waiter per connection. */
  waitDrain(): Promise<void>;
}

/**
 * Told once per drain that wrote something (never per event): where metrics
 * hook in. `fromIndex` is the cursor's position before the drain, `first`
 * the oldest item it wrote.
 */
export interface DrainObserver<E> {
  drained(fromIndex: number, first: BufferItem<E>): void;
}

export interface CursorOptions {
  /** Stop pulling from the buffer while more than this is buffered on the socket. */
  highWaterBytes: number;
  /** Drop the subscriber when more than this is buffered on the socket. */
  dropAfterBytes: number;
  /** Bytes written per drain before yielding to other cursors. */
  batchBytes: number;
  /** Items with a lower index are skipped (a resume index the buffer has not reached yet). */
  startAt?: number;
  /** Metrics hook, called once per drain; absent when metrics are off. */
  observer?: DrainObserver<any> | null;
}

export type CursorEnd =
  | { reason: 'closed'; lastIndex: number }
  | { reason: 'dropped'; cause: DropCause; lastIndex: number; bufferedBytes: number }
  | { reason: 'error'; error: Error; lastIndex: number };

const yieldToLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

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
  private readonly batch: Uint8Array[] = [];
  private readonly filter: Filter;
  private readonly encoding: number;
  private readonly frames: FrameCache<E>;
  private readonly sink: Sink;
  private readonly options: CursorOptions;
  private readonly startAt: number;

  /**
   * @param start the position to read after: the tail for a live subscriber,
   *   `BufferItem.before(first)` to deliver `first` next.
   */
  constructor(start: BufferItem<E>, filter: Filter, encoding: number, frames: FrameCache<E>, sink: Sink, options: CursorOptions) {
    this.item = start;
    this.filter = filter;
    this.encoding = encoding;
    this.frames = frames;
    this.sink = sink;
    this.options = options;
    this.startAt = options.startAt ?? 0;
  }

  /** The item this cursor will deliver next, when it has been appended. */
  get nextItem(): BufferItem<E> | null {
    return this.item.link.next;
  }

  /** Index of the last item passed; the subscriber resumes at this + 1. */
  get lastIndex(): number {
    return this.item.index;
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

  async run(): Promise<CursorEnd> {
    const { sink, options } = this;
    try {
      for (;;) {
        if (this.done) return { reason: 'closed', lastIndex: this.item.index };
        if (this.item.link.next === null) {
          await this.item.link.waker.wait();
          continue;
        }
        if (this.item.link.dropped) return this.dropped('lagged');

        const exhausted = this.drain();
        if (exhausted instanceof Error) return { reason: 'error', error: exhausted, lastIndex: this.item.index };

        while (this.buffered > options.highWaterBytes) {
          if (this.buffered > options.dropAfterBytes) return this.dropped('backpressure');
          this.backpressured = true;
          // Wake on drain, and on appends too: a reader stuck behind a dead
          // socket must notice its item being evicted, or it would pin every
          // item appended since.
          await Promise.race([sink.waitDrain(), this.item.link.waker.wait()]);
          if (this.done) return { reason: 'closed', lastIndex: this.item.index };
          if (this.item.link.dropped) return this.dropped('lagged');
          this.buffered = sink.bufferedAmount();
        }
        this.backpressured = false;
        if (exhausted) await yieldToLoop();
      }
    } catch (err) {
      if (err instanceof DroppedError) return this.dropped(err.dropCause);
      return { reason: 'error', error: err as Error, lastIndex: this.item.index };
    }
  }

  /**
   * Walks every ready item up to the byte budget and writes the frames in one
   * batch. Returns true when it stopped on the budget with more ready, the
   * buffer's error when it reached the end of a closed buffer, else false.
   */
  private drain(): boolean | Error {
    const { batch, frames, filter, encoding, options } = this;
    // Never write much past the high-water mark: what is over it would only
    // sit in memory, and could push a healthy reader over the drop limit.
    const room = options.highWaterBytes - this.buffered;
    const budget = room < options.batchBytes ? (room > 0 ? room : 1) : options.batchBytes;
    let item = this.item;
    let next = item.link.next;
    let count = 0;
    let bytes = 0;
    let events = 0;
    let first: BufferItem<E> | null = null;
    let failure: Error | null = null;
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
      }
      item = next;
      next = item.link.next;
    }
    const fromIndex = this.item.index;
    this.item = item;
    if (count > 0) {
      this.sink.writeBatch(batch, count);
      this.buffered = this.sink.bufferedAmount();
      // Let go of the frames so evicted items can be collected.
      for (let i = 0; i < count; i++) batch[i] = EMPTY;
      this.framesWritten += count;
      this.eventsWritten += events;
      this.bytesWritten += bytes;
      options.observer?.drained(fromIndex, first!);
    }
    if (failure !== null) return failure;
    return next !== null;
  }

  private dropped(cause: DropCause): CursorEnd {
    return { reason: 'dropped', cause, lastIndex: this.item.index, bufferedBytes: this.sink.closed ? 0 : this.sink.bufferedAmount() };
  }
}

const EMPTY = new Uint8Array(0);
