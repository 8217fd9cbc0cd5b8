/**
 * EventBuffer: a bounded, single-writer, many-reader chain of appended items.
 * A port of the semantics of Nomad's `nomad/stream/event_buffer.go`.
 *
 *   head (oldest retained)                     tail (newest)
 *     |                                          |
 *     v                                          v
 *   [ 7 ] --next--> [ 8 ] --next--> [ 9 ] --next--> null
 *                                     ^             ^
 *                      reader at 9 ---'             '--- parked readers await the
 *                      (drains on wake)                  one shared Waker promise
 *
 * - Indexes start at 1 and grow by 1 per append, unless the appender names
 *   them: `append(events, bytes, index)` takes any index above the newest
 *   (a replicated log whose sequence may skip), and `rebase(index)` moves an
 *   untouched buffer's anchor so the first item need not be 1 (a node that
 *   joins a log part-way). Either way indexes only ever increase.
 * - At most `maxSize` items are retained. Appending past it advances the head
 *   and marks the evicted item dropped; a reader still holding a dropped item
 *   gets `DroppedError` from `next()` (it fell `maxSize` items behind). Evicted
 *   items are garbage once the slowest reader lets go of them.
 * - With `maxItemTtlMs`, a timer prunes items older than that from the head.
 *   The tail is never marked dropped, so readers parked on it are never
 *   punished for being caught up; a fully pruned buffer keeps its tail as the
 *   anchor to wait on, but reports it as not retained.
 * - A new buffer starts with a sentinel item (index 0, no events) as head and
 *   tail so readers can wait for the first append.
 * - `appendError` links an error item and closes the buffer: every reader that
 *   reaches it gets the error, and further appends throw it.
 *
 * Appends must come from one logical writer. In Node that holds for free: the
 * event loop serializes every caller, so there are no locks or atomics here.
 */
import { BufferItem, BufferLink } from './buffer-item.js';
import { Waker, type SweepBudget } from './waker.js';

export type EvictionCause = 'size' | 'ttl';

export interface EventBufferOptions<E = unknown> {
  /** Maximum number of retained items; at least 1. */
  maxSize: number;
  /** Items older than this are pruned by a timer; 0 or absent disables it. */
  maxItemTtlMs?: number;
  /** Clock in milliseconds; injectable so TTL can be tested without waiting. */
  now?: () => number;
  /** Called once per eviction batch, for metrics; never per reader. */
  onEvict?: (cause: EvictionCause, count: number) => void;
  /**
   * Called synchronously with each item linked at the tail (the error item of
   * `appendError` too), before any reader is woken: where a reader-side index
   * (per-filter views) keeps itself in step. Never per reader.
   */
  onAppend?: (item: BufferItem<E>) => void;
  /**
   * Event-loop turns a wake-up may be put off while each turn appends several
   * items (a producer's backlog arriving over several reads), so readers wake
   * once for all of it; see Waker. 0 (default): readers wake on the next
   * macrotask after an append, as in Nomad.
   */
  settleTurns?: number;
  /**
   * Readers woken per event-loop turn; more are woken over the next turns,
   * with I/O in between, so items appended meanwhile reach the ones not yet
   * woken (see Waker). Default 512; Infinity wakes every reader in one go.
   */
  wakeChunk?: number;
  /** How long a chunk may take now (see SweepBudget); default: no limit but wakeChunk. */
  sweepBudget?: SweepBudget;
}

/** See EventBufferOptions.wakeChunk: about 5 ms of socket writes at one write each on the machines we measure on. */
export const DEFAULT_WAKE_CHUNK = 512;

export interface ClosestItem<E> {
  item: BufferItem<E>;
  /** Distance between the requested index and the returned item's index (0 when exact). */
  offset: number;
}

export class EventBuffer<E> {
  readonly maxSize: number;
  readonly maxItemTtlMs: number;
  private readonly now: () => number;
  private readonly onEvict: ((cause: EvictionCause, count: number) => void) | undefined;
  private readonly onAppend: ((item: BufferItem<E>) => void) | undefined;
  /** See EventBufferOptions.settleTurns; views of this buffer use the same. */
  readonly settleTurns: number;
  /** See EventBufferOptions.wakeChunk; views of this buffer use the same. */
  readonly wakeChunk: number;
  /** See EventBufferOptions.sweepBudget; views of this buffer use the same. */
  readonly sweepBudget: SweepBudget | undefined;
  private readonly waker: Waker;
  private head: BufferItem<E>;
  private tail: BufferItem<E>;
  /** Retained items: the chain from head to tail inclusive, or none when 0. */
  private size = 0;
  /** Sum of the `bytes` of retained items. */
  private bytes = 0;
  private closedWith: Error | null = null;
  /** Set by the first append; `rebase` is refused after it. */
  private appended = false;
  private pruneTimer: NodeJS.Timeout | null = null;

  constructor(options: EventBufferOptions<E>) {
    if (!Number.isSafeInteger(options.maxSize) || options.maxSize < 1) {
      throw new RangeError(`maxSize must be an integer >= 1, got ${options.maxSize}`);
    }
    this.maxSize = options.maxSize;
    this.maxItemTtlMs = options.maxItemTtlMs ?? 0;
    this.now = options.now ?? Date.now;
    this.onEvict = options.onEvict;
    this.onAppend = options.onAppend;
    this.settleTurns = options.settleTurns ?? 0;
    if (!Number.isSafeInteger(this.settleTurns) || this.settleTurns < 0) throw new RangeError(`settleTurns must be an integer >= 0, got ${options.settleTurns}`);
    this.wakeChunk = options.wakeChunk ?? DEFAULT_WAKE_CHUNK;
    if (!(this.wakeChunk >= 1) || (Number.isFinite(this.wakeChunk) && !Number.isSafeInteger(this.wakeChunk))) {
      throw new RangeError(`wakeChunk must be an integer >= 1 or Infinity, got ${options.wakeChunk}`);
    }
    this.sweepBudget = options.sweepBudget;
    this.waker = new Waker(this.settleTurns, this.wakeChunk, this.sweepBudget);
    const sentinel = new BufferItem<E>(0, null, null, this.now(), new BufferLink<E>(this.waker));
    this.head = sentinel;
    this.tail = sentinel;
    if (this.maxItemTtlMs > 0) {
      const every = Math.min(Math.max(Math.floor(this.maxItemTtlMs / 2), 50), 5_000);
      this.pruneTimer = setInterval(() => this.prune(), every);
      this.pruneTimer.unref();
    }
  }

  /**
   * Appends one item holding `events` under the next index and returns it.
   * `bytes` is what the item weighs for `retainedBytes` (the caller's measure,
   * e.g. the producer frame's size). `index` defaults to the newest index + 1;
   * an appender that numbers items itself (a replicated log's sequence) may
   * skip indexes but never go back: a non-increasing index is a RangeError.
   * The caller must not mutate `events` afterwards: readers share them.
   * Throws the buffer's error once `appendError` has closed it.
   */
  append(events: readonly E[], bytes = 0, index = this.tail.index + 1): BufferItem<E> {
    if (this.closedWith !== null) throw this.closedWith;
    // One comparison on the hot path; a default index always passes it.
    if (!(index > this.tail.index) || !Number.isSafeInteger(index)) {
      throw new RangeError(`index ${index} must be an integer above the newest index (${this.tail.index})`);
    }
    this.appended = true;
    const item = new BufferItem<E>(index, events, null, this.now(), new BufferLink<E>(this.waker), bytes);
    this.bytes += bytes;
    this.link(item);
    if (this.size === 0) {
      // The old head was only an anchor (sentinel or fully pruned tail); it
      // is not marked dropped, since readers parked on it are caught up.
      this.head = item;
    }
    this.size++;
    if (this.size > this.maxSize) {
      this.evictHead();
      this.onEvict?.('size', 1);
    }
    this.onAppend?.(item);
    this.waker.notify();
    return item;
  }

  /**
   * Re-anchors a buffer nothing was ever appended to, as if `index` were the
   * newest index: `newestIndex` becomes `index`, `oldestIndex` `index + 1`,
   * and the next default append gets `index + 1`. For a reader of a log that
   * starts part-way (its first retained sequence is above 1), so resume
   * requests below that are told they missed something. The anchor keeps the
   * old sentinel's link, so a reader already parked on it still sees the
   * first append. Throws a RangeError after any append or once closed.
   */
  rebase(index: number): void {
    if (this.appended || this.closedWith !== null) throw new RangeError('rebase is only valid before the first append');
    if (!Number.isSafeInteger(index) || index < 0) throw new RangeError(`rebase index must be an integer >= 0, got ${index}`);
    const anchor = new BufferItem<E>(index, null, null, this.now(), this.tail.link);
    this.head = anchor;
    this.tail = anchor;
  }

  /**
   * Terminates the buffer: readers reaching the end get `err`, appends throw
   * it. Readers are woken at once rather than on the next macrotask, so a
   * shutdown does not wait on the event loop.
   */
  appendError(err: Error): void {
    if (this.closedWith !== null) return;
    this.closedWith = err;
    const item = new BufferItem<E>(this.tail.index, null, err, this.now(), new BufferLink<E>(this.waker));
    this.link(item);
    this.stopPruning();
    this.onAppend?.(item);
    this.waker.notifyNow();
  }

  /**
   * Wakes every parked reader without appending anything; each re-checks its
   * state and parks again. This is how readers stopped while parked on an
   * idle buffer get to exit and be collected (coalesced like appends).
   */
  wakeReaders(): void {
    this.waker.notify();
  }

  /** The error the buffer was closed with, or null while open. */
  get error(): Error | null {
    return this.closedWith;
  }

  /** Oldest retained item; when nothing is retained, the anchor readers wait on. */
  headItem(): BufferItem<E> {
    return this.head;
  }

  /** Newest item (the sentinel, or the `rebase` anchor, before the first append). */
  tailItem(): BufferItem<E> {
    return this.tail;
  }

  /** Sum of the sizes given to `append` for the items retained. */
  get retainedBytes(): number {
    return this.bytes;
  }

  /** Number of retained items. */
  get length(): number {
    return this.size;
  }

  /** Index of the newest appended item; before the first append 0, or the `rebase` index (the error item reuses its predecessor's index). */
  get newestIndex(): number {
    return this.tail.index;
  }

  /** Index of the oldest retained item, or the next index to be assigned when none is retained. */
  get oldestIndex(): number {
    return this.size > 0 ? this.head.index : this.newestIndex + 1;
  }

  /**
   * The retained item at `index`, or the closest one, with the distance
   * between them, as Nomad's `StartAtClosest`: before the buffer gives the
   * oldest item, past it gives the newest. An empty buffer gives its anchor.
   */
  startAtClosest(index: number): ClosestItem<E> {
    let item = this.head;
    if (this.size === 0 || index <= item.index) {
      return { item, offset: Math.abs(item.index - index) };
    }
    for (;;) {
      const next = item.nextNoBlock();
      if (next === null || next.error !== null) return { item, offset: index - item.index };
      item = next;
      if (index <= item.index) return { item, offset: item.index - index };
    }
  }

  /** Evicts items older than the TTL from the head. Runs on a timer; public so tests can drive it with a fake clock. */
  prune(): void {
    if (this.maxItemTtlMs <= 0) return;
    const cutoff = this.now() - this.maxItemTtlMs;
    let evicted = 0;
    while (this.size > 0 && this.head.createdAt <= cutoff) evicted += this.evictOldest();
    if (evicted > 0) this.onEvict?.('ttl', evicted);
  }

  /**
   * Evicts retained items whose index is below `index` from the head, as
   * size and TTL eviction do (marked dropped), except that the newest item
   * stays as the anchor readers wait on, unmarked, like a fully pruned
   * buffer's. For a buffer that mirrors part of another one and must not
   * retain what that one has let go. Returns how many items it evicted; no
   * `onEvict` call (the caller owns the cause).
   */
  evictBefore(index: number): number {
    let evicted = 0;
    while (this.size > 0 && this.head.index < index) evicted += this.evictOldest();
    return evicted;
  }

  /**
   * Evicts the oldest retained item (size > 0). The newest item stays as the
   * anchor readers wait on, unmarked: a reader holding it has delivered
   * everything and is not behind; the buffer then retains nothing.
   */
  private evictOldest(): 1 {
    if (this.head === this.tail || this.head.link.next?.error) {
      this.size = 0;
      this.bytes = 0;
    } else {
      this.evictHead();
    }
    return 1;
  }

  /** Stops the TTL timer. The buffer stays readable. */
  close(): void {
    this.stopPruning();
  }

  private link(item: BufferItem<E>): void {
    this.tail.link.next = item;
    this.tail = item;
  }

  private evictHead(): void {
    const old = this.head;
    old.link.dropped = true;
    // size > 1 whenever this runs, so the head always has a successor.
    this.head = old.link.next as BufferItem<E>;
    this.size--;
    this.bytes -= old.bytes;
  }

  private stopPruning(): void {
    if (this.pruneTimer !== null) {
      clearInterval(this.pruneTimer);
      this.pruneTimer = null;
    }
  }
}
