/**
 * The seam between a cursor and the layers outside the fan-out: what it
 * needs of a connection (`Sink`, implemented by each transport), what the
 * gateway sets when it makes one (`CursorOptions`), how it tells its owner
 * that it ended (`CursorEnd` to a `CursorOwner`, which turns it into a close
 * code), and where metrics hook in (`DrainObserver`).
 *
 * Types only, in a file of their own, so a transport or the gateway depends
 * on the shape of the seam and not on the loop behind it (cursor.ts).
 */
import type { BufferItem } from '../buffer/index.js';
import type { DropCause } from '../errors.js';
import type { LagBuffer, LagOptions } from './lag.js';

/** The connection as the fan-out sees it. Implemented by each transport. */
export interface Sink {
  /** True once the connection closed; checked after every await. */
  readonly closed: boolean;
  /**
   * Bytes accepted but not yet handed to the kernel. A connection that can no
   * longer deliver everything it was given (a transport dropped a message)
   * reports `Number.MAX_SAFE_INTEGER`, which ends the cursor under every policy.
   */
  bufferedAmount(): number;
  /** Writes `count` messages from `frames` as one batch (one syscall where the transport can). */
  writeBatch(frames: readonly Uint8Array[], count: number): void;
  /**
   * True when the frames are complete wire frames (the transport's `prepare`
   * made them whole), so one buffer holding several back to back is a valid
   * single write: cursors then hand over one joined buffer, shared by every
   * cursor writing the same range. Read once, when the cursor is made.
   */
  readonly joinsFrames?: boolean;
  /** Resolves when the connection can take more (or closed). One waiter per connection. */
  waitDrain(): Promise<void>;
}

/**
 * Told once per drain that wrote something (never per event): where metrics
 * hook in. `first` is the oldest item it wrote (the subscriber was
 * `newestIndex - first.index + 1` items behind when the drain began).
 */
export interface DrainObserver<E> {
  drained(first: BufferItem<E>): void;
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
  /** Laggard policy skip or conflate; absent or null: drop. Shared between subscribers (see lag.ts). */
  lag?: LagOptions<any> | null;
  /**
   * The chain `start` belongs to: the buffer, or a filtered view of it
   * (views.ts). Where skips land, and what lag is measured against; required
   * with `lag`. Without it, positions are the items' own indexes.
   */
  chain?: LagBuffer<any> | null;
  /**
   * The subscriber takes several items in one message (`batch=1`): a drain
   * of more than one item writes the frame cache's shared batch message
   * instead of one message per item. Needs a batch encoder for the encoding.
   */
  batchMessages?: boolean;
}

/** How a cursor ended: the caller turns it into a close code, and resumes at `lastIndex + 1`. */
export type CursorEnd =
  | { reason: 'closed'; lastIndex: number }
  | { reason: 'dropped'; cause: DropCause; lastIndex: number; bufferedBytes: number }
  | { reason: 'error'; error: Error; lastIndex: number };

/** Told once how a cursor ended. */
export interface CursorOwner {
  cursorEnded(end: CursorEnd): void;
}
