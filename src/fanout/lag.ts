/**
 * Laggard policies: what a cursor does when its subscriber cannot keep up.
 *
 *   drop      close the connection (4001) with the resume position; the
 *             default, and what a cursor does without LagOptions.
 *   skip      jump over what is lost (to the oldest item still held, or to
 *             the newest) and tell the subscriber in-band with a gap
 *             message [from, to]; the connection stays open.
 *   conflate  under pressure, stop delivering every item: collapse the
 *             range it is behind into one message with the newest event of
 *             each (topic, key); back to full delivery once caught up. When
 *             even that cannot keep up, fall back to skip or drop.
 *
 * This file holds the settings a cursor is given and the counters it bumps.
 * Both are shared: one LagOptions object per (policy, skip target, wire
 * format), built when the first such subscriber connects, so a subscriber
 * costs a pointer, not an object. Counters are bumped once per gap message,
 * conflated message or fallback, never per event.
 */
import type { BufferItem } from '../buffer/index.js';
import type { Prepared } from './sink.js';

export type LagPolicy = 'drop' | 'skip' | 'conflate';
export type SkipTo = 'oldest' | 'tail';
/** `evicted`: the items left the buffer before the subscriber could read them; `slow`: skipped because too many bytes were unsent. */
export type GapReason = 'evicted' | 'slow';

/** Per-subscriber messages a policy writes, in the subscriber's wire format, ready for `Sink.writeBatch`. */
export interface LagFrames<E> {
  gap(from: number, to: number, reason: GapReason): Prepared;
  /** An events message marked conflated, for `events` standing for every item up to `index`. */
  conflated(index: number, events: readonly E[]): Prepared;
}

/**
 * What a policy needs to see of the chain a cursor reads (the buffer, or a
 * filtered view of it): where to jump, how far behind a cursor is.
 */
export interface LagBuffer<E> {
  headItem(): BufferItem<E>;
  tailItem(): BufferItem<E>;
  /** The buffer's newest index (for a view too: every item up to it has been routed). */
  readonly newestIndex: number;
  readonly length: number;
}

export interface LagOptions<E> {
  policy: 'skip' | 'conflate';
  /** Where a skip lands when the cursor's item was evicted: after it, the oldest item held, or nothing but new items. */
  skipTo: SkipTo;
  /** conflate: behind, with the socket over the high-water mark, for this long (ms) counts as pressure. */
  graceMs: number;
  /** conflate: more than this many items behind the newest counts as pressure at once. */
  maxLagItems: number;
  /** conflate: what to do when even conflated delivery cannot keep up. */
  fallback: 'skip' | 'drop';
  frames: LagFrames<E>;
  counters: LagCounters;
  /** Clock in ms; read only while a subscriber is under pressure. */
  now: () => number;
}

/** What a policy did, by occurrence. */
export type LagOutcome = 'gap_evicted' | 'gap_slow' | 'conflated' | 'fallback_skip' | 'fallback_drop';

export class LagCounters {
  /** Occurrences by policy: gap messages sent (by reason), conflated messages sent, fallbacks taken. */
  readonly outcomes = {
    skip: { gap_evicted: 0, gap_slow: 0 },
    conflate: { conflated: 0, fallback_skip: 0, fallback_drop: 0, gap_evicted: 0, gap_slow: 0 },
  };
  /** Items covered by gap messages, by policy (an index skipped is one item, whatever it held). */
  readonly skippedItems = { skip: 0, conflate: 0 };
  /** Matching events not sent because a newer event of their (topic, key) went in a conflated message instead. */
  eventsConflatedAway = 0;
}
