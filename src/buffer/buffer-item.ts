/**
 * One link of the event buffer's chain: the events of one append under one
 * index, and the link to whatever is appended next.
 *
 * Ported from Nomad's `bufferItem`/`bufferLink`. The link is a separate object
 * so a reader can hold a position (`nextLink()`) without holding the item's
 * events. Readers must treat items as immutable: they are shared by every
 * subscriber.
 */
import { DroppedError } from '../errors.js';
import type { Waker } from './waker.js';

export class BufferLink<E> {
  /** Written exactly once, by the single writer, when the next item is appended. */
  next: BufferItem<E> | null = null;
  /** Set once, when the buffer evicts this item; a reader still holding it has fallen behind. */
  dropped = false;
  readonly waker: Waker;

  constructor(waker: Waker) {
    this.waker = waker;
  }
}

export class BufferItem<E> {
  readonly index: number;
  /** `null` for the sentinel, for position-only anchors, and for the error item. */
  readonly events: readonly E[] | null;
  /** Set on the item `appendError` adds: every reader that reaches it gets this error. */
  readonly error: Error | null;
  /** Milliseconds on the buffer's clock; drives TTL pruning. */
  readonly createdAt: number;
  readonly link: BufferLink<E>;
  /**
   * Reserved for readers: a per-item memo shared by all of them (the fan-out
   * layer keeps encoded frames here so each item is serialized once, not once
   * per subscriber). The buffer never reads or writes it.
   */
  attachment: unknown = undefined;
  /** What the appender said this item weighs (see EventBuffer.retainedBytes). */
  readonly bytes: number;

  constructor(
    index: number,
    events: readonly E[] | null,
    error: Error | null,
    createdAt: number,
    link: BufferLink<E>,
    bytes = 0,
  ) {
    this.index = index;
    this.bytes = bytes;
    this.events = events;
    this.error = error;
    this.createdAt = createdAt;
    this.link = link;
  }

  /** True once the buffer has evicted this item. */
  get dropped(): boolean {
    return this.link.dropped;
  }

  /**
   * Resolves with the next item once it is appended. Rejects with
   * `DroppedError` when this item was evicted while the reader held it (the
   * reader fell more than the buffer's size behind), with the buffer's error
   * when the next item is the error item, and with the signal's reason when
   * `signal` aborts.
   */
  async next(signal?: AbortSignal): Promise<BufferItem<E>> {
    for (;;) {
      signal?.throwIfAborted();
      const next = this.link.next;
      if (next !== null) {
        if (this.link.dropped) throw new DroppedError('lagged', this.index);
        if (next.error !== null) throw next.error;
        return next;
      }
      const wake = this.link.waker.wait();
      await (signal === undefined ? wake : abortable(wake, signal));
    }
  }

  /** The next item if it has been appended, else `null`. Never waits. */
  nextNoBlock(): BufferItem<E> | null {
    return this.link.next;
  }

  /**
   * The next item if there is one, else an empty item sharing this item's link:
   * a position to wait on that does not keep this item's events alive.
   */
  nextLink(): BufferItem<E> {
    return this.link.next ?? new BufferItem<E>(this.index, null, null, this.createdAt, this.link);
  }

  /**
   * An empty item whose next is `item`, so a reader starting from it gets
   * `item` first (Nomad builds the same "start" item in Subscribe).
   */
  static before<E>(item: BufferItem<E>): BufferItem<E> {
    const link = new BufferLink<E>(item.link.waker);
    link.next = item;
    return new BufferItem<E>(item.index - 1, null, null, item.createdAt, link);
  }
}

/** Races `wake` against `signal`; the listener is removed either way, so nothing accumulates on long-lived signals. */
function abortable(wake: Promise<void>, signal: AbortSignal): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    wake.then(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    });
  });
}
