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
import type { DropCause, DroppedError, FanwireError } from '../errors.js';
import type { LagBuffer, LagOptions } from './lag.js';

/**
 * A message a transport made ready to send (`Framer.prepare`): built once
 * per item, filter and encoding, shared by every sink of that transport.
 * Opaque here: the fan-out counts its bytes and hands it back to the
 * transport that made it, never looks inside.
 */
export interface Prepared {
  readonly byteLength: number;
}

/**
 * What a transport does to an encoded message before its sinks take it,
 * and whether it can make one message of several. One per transport.
 */
export interface Framer {
  /** The message ready for this transport's sinks. Called once per item and filter, never per subscriber. */
  prepare(data: Uint8Array, binary: boolean): Prepared;
  /** The encoded message inside a prepared one (what `prepare` was given; a view, no copy). */
  payload(message: Prepared): Uint8Array;
  /**
   * One message that sends as `messages[0, count)` in that order (`bytes`
   * long in all), where the transport can write several as one (ws: whole
   * frames back to back, one socket write); null where it cannot (each is
   * then handed over on its own).
   */
  readonly join: ((messages: readonly Prepared[], count: number, bytes: number) => Prepared) | null;
}

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
  /** Writes `messages[0, count)`, prepared by this sink's transport, as one batch (one syscall where the transport can). */
  writeBatch(messages: readonly Prepared[], count: number): void;
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

/**
 * How a cursor ended, with the typed error behind it: the owner answers it
 * with the close frame the error table gives (`closeOf`), and the client
 * resumes at `lastIndex + 1`. 'closed': the connection went first, nothing
 * to answer. A fault that is not a FanwireError arrives as an InternalError.
 */
export type CursorEnd =
  | { reason: 'closed'; lastIndex: number }
  | { reason: 'dropped'; error: DroppedError; cause: DropCause; lastIndex: number; bufferedBytes: number }
  | { reason: 'error'; error: FanwireError; lastIndex: number };

/** Told once how a cursor ended. */
export interface CursorOwner {
  cursorEnded(end: CursorEnd): void;
}
