/**
 * Lag state: what one skip or conflate subscriber's cursor keeps between
 * wake-ups, and the policy steps that read it (lag.ts has the policies and
 * their shared settings; this is the per-subscriber half).
 *
 *   fellBehind     its item evicted, or past the drop limit: conflate
 *                  starts (or falls back to drop), then skip jumps and
 *                  notes the items jumped over as a gap
 *   flushGap       the socket under the mark again: one gap message for
 *                  every skip since the last one written
 *   watchPressure  conflate: over the mark longer than the grace period,
 *   watchLag       or too many items behind: start conflating
 *   conflate       one conflation pass, instead of a drain, until caught up
 *
 * Made only for a subscriber that chose skip or conflate. A drop cursor's
 * `lag` is null and carries none of these fields (idle memory is per
 * subscriber, and most subscribers drop); its keeping-up path pays one null
 * check per wake-up, nothing per event. Everything here runs on slow paths.
 */
import { BufferItem } from '../buffer/index.js';
import { DroppedError, type DropCause } from '../errors.js';
import { conflateRange } from './conflate.js';
import type { Filter, Routable } from './filter.js';
import type { GapReason, LagBuffer, LagOptions } from './lag.js';
import type { Prepared } from './sink.js';

/** The cursor as its lag state sees it: Cursor implements it, for its policy's use only. */
export interface LagCursor<E> {
  /** The last item passed (delivered or filtered out). */
  readonly position: BufferItem<E>;
  /** Unsent bytes on the socket as of the last write. */
  readonly unsent: number;
  /** The chain the cursor reads; never null for a cursor with a lag state. */
  readonly chain: LagBuffer<E> | null;
  readonly filter: Filter;
  readonly startAt: number;
  readonly highWaterBytes: number;
  readonly dropAfterBytes: number;
  /** Moves the cursor to `item` (a skip lands, a conflation pass ends). */
  moveTo(item: BufferItem<E>): void;
  /**
   * Writes one message the policy built and refreshes `unsent`. `events` > 0
   * counts it as a delivery of that many events (a conflated message); a gap
   * message passes 0.
   */
  writeOwn(frame: Prepared, events: number): void;
}

export class LagState<E extends Routable> {
  /** The policy's settings, shared by every subscriber with the same ones. */
  readonly options: LagOptions<E>;
  /** conflate: collapsing ranges into conflated messages instead of delivering every item, until caught up. */
  conflating = false;
  /** When the socket went over the mark (lag clock), for conflate's grace period; -1 when not measuring. */
  overSince = -1;
  /** A gap decided but not yet written (the socket is over the mark): items gapFrom..gapTo; gapFrom 0 when none. */
  private gapFrom = 0;
  private gapTo = 0;
  private gapReason: GapReason = 'evicted';

  constructor(options: LagOptions<E>) {
    this.options = options;
  }

  /**
   * The cursor's item was evicted ('lagged'), or its socket holds more than
   * the drop limit ('backpressure'). Null when the policy lets it go on;
   * else why it ends: a DroppedError (dropped, with its cause) or the
   * buffer's error.
   */
  fellBehind(cursor: LagCursor<E>, cause: DropCause): Error | null {
    const lag = this.options;
    if (lag.policy === 'conflate') {
      // Even conflated delivery could not keep up.
      if (lag.fallback === 'drop') {
        lag.counters.outcomes.conflate.fallback_drop++;
        return new DroppedError(cause, cursor.position.index);
      }
      this.conflating = true;
    }
    return this.skip(cursor, cause);
  }

  /**
   * Jumps: after an eviction to the oldest item held (or the newest, with
   * skipTo 'tail'); past the drop limit to the newest, since the items up to
   * here are already in the socket. Notes the items jumped over as a gap,
   * written at once unless the socket is over the mark (then by the drain
   * wait, merged with any later skip). Returns the buffer's error when the
   * buffer ended.
   */
  private skip(cursor: LagCursor<E>, cause: DropCause): Error | null {
    const lag = this.options;
    const buffer = cursor.chain!;
    const tail = buffer.tailItem();
    if (tail.error !== null) return tail.error;
    const target = cause === 'backpressure' || lag.skipTo === 'tail' || buffer.length === 0 ? tail : BufferItem.before(buffer.headItem());
    const from = Math.max(cursor.position.index + 1, cursor.startAt);
    if (target.index >= from) {
      if (this.gapFrom === 0) {
        this.gapFrom = from;
        this.gapReason = cause === 'lagged' ? 'evicted' : 'slow';
        if (lag.policy === 'conflate') lag.counters.outcomes.conflate.fallback_skip++;
      }
      this.gapTo = target.index;
    }
    cursor.moveTo(target);
    this.flushGap(cursor);
    return null;
  }

  /** Writes the pending gap message (one for every skip since the last write), once the socket is under the mark. */
  flushGap(cursor: LagCursor<E>): void {
    if (this.gapFrom === 0 || cursor.unsent > cursor.highWaterBytes) return;
    const lag = this.options;
    const { gapFrom: from, gapTo: to, gapReason: reason } = this;
    this.gapFrom = 0;
    cursor.writeOwn(lag.frames.gap(from, to, reason), 0);
    const outcomes = lag.counters.outcomes[lag.policy];
    if (reason === 'evicted') outcomes.gap_evicted++;
    else outcomes.gap_slow++;
    lag.counters.skippedItems[lag.policy] += to - from + 1;
  }

  /**
   * conflate, at each wake-up of a drain wait: over the high-water mark
   * since `overSince` (the first call of a wait sets it) for longer than
   * the grace period, or too far behind.
   */
  watchPressure(cursor: LagCursor<E>): void {
    const lag = this.options;
    if (this.conflating || lag.policy !== 'conflate') return;
    const now = lag.now();
    if (this.overSince < 0) this.overSince = now;
    if (now - this.overSince >= lag.graceMs || cursor.chain!.newestIndex - cursor.position.index > lag.maxLagItems) this.conflating = true;
  }

  /** conflate, after a drain that stopped on its budget: too far behind. */
  watchLag(cursor: LagCursor<E>): void {
    const lag = this.options;
    if (!this.conflating && lag.policy === 'conflate' && cursor.chain!.newestIndex - cursor.position.index > lag.maxLagItems) this.conflating = true;
  }

  /**
   * One conflation pass: everything ready becomes one conflated message,
   * encoded here for this subscriber alone. Caught up (back to full
   * delivery) when the socket takes it and stays under the mark. Returns
   * false, or the buffer's error as a drain does, or a DroppedError when the
   * message would not fit under the drop limit and the fallback is drop.
   */
  conflate(cursor: LagCursor<E>): false | Error {
    const lag = this.options;
    const range = conflateRange(cursor.position, cursor.filter, cursor.startAt);
    const kept = range.events.length;
    if (kept > 0) {
      const frame = lag.frames.conflated(range.last.index, range.events);
      if (frame.byteLength > cursor.dropAfterBytes - cursor.highWaterBytes) {
        // Newest-per-key is still too much to send: conflation cannot keep up.
        if (lag.fallback === 'drop') {
          lag.counters.outcomes.conflate.fallback_drop++;
          return new DroppedError('backpressure', cursor.position.index);
        }
        this.skip(cursor, 'backpressure');
        if (cursor.unsent <= cursor.highWaterBytes) this.conflating = false;
        return range.error ?? false;
      }
      cursor.writeOwn(frame, kept);
      lag.counters.outcomes.conflate.conflated++;
      lag.counters.eventsConflatedAway += range.matched - kept;
    }
    cursor.moveTo(range.last);
    if (cursor.unsent <= cursor.highWaterBytes) this.conflating = false;
    return range.error ?? false;
  }
}
